"""Polls that memory answers are served on the event loop, outside the router (the polling fast
path). Seen from outside, nothing may tell the two apart: the same bodies and headers, the same
metrics, responses in request order, and the same idle timeout and shutdown."""
import re
import socket
import time

import pytest

from conftest import running_herald
from test_limits import closed_within, open_socket
from test_metrics import scrape
from test_sse import new_user


@pytest.fixture(scope="module")
def server():
    with running_herald("herald-fastpath-", HERALD_IDLE_TIMEOUT_SECONDS="2") as herald:
        yield herald


def reader(herald):
    """A new user's token, with one event in the user's stream."""
    name, token = new_user(herald)
    herald.publish(user=name, name="ping", data={"n": 1}, mode="append")
    return token


def request(path, token, request_id=None):
    lines = [f"GET {path} HTTP/1.1", "Host: herald", f"Authorization: Bearer {token}"]
    if request_id:
        lines.append(f"X-Request-ID: {request_id}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock):
    """One response off a kept-alive connection: (status, headers, body). Bytes read past it (a
    pipelined response) are kept for the next call."""
    data = pending.pop(sock, b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        key, value = line.split(":", 1)
        headers[key.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection within a body"
        rest += chunk
    if len(rest) > length:
        pending[sock] = rest[length:]
    return int(lines[0].split()[1]), headers, rest[:length].decode()


pending = {}


FROM_MEMORY = "herald_polls_answered_from_memory_total"


def test_a_poll_answered_from_memory_looks_like_one_the_router_answers(server):
    token = reader(server)
    before = scrape(server)[FROM_MEMORY]
    answers = []
    # The first poll goes through the router, which looks the token up and reads the stream.
    # Then polls on a fresh connection: memory answers them. (On the first connection, a poll
    # could still find the router's response finishing, the last of its parts on its way from
    # the router's thread, and then go to the router as well, to keep responses in order.)
    for polls in (1, 2):
        with open_socket(server) as sock:
            for _ in range(polls):
                sock.sendall(request("/api/notifications?since=0", token))
                answers.append(read_response(sock))
    statuses = {status for status, _, _ in answers}
    bodies = {body for _, _, body in answers}
    names = {tuple(sorted(headers)) for _, headers, _ in answers}
    assert statuses == {200} and len(bodies) == 1 and len(names) == 1, answers
    assert re.fullmatch(r'\[\{"id":\d+,"name":"ping","data":\{"n":1\},"timestamp":[0-9.]+,"seq":1\}\]', bodies.pop())
    for _, headers, _ in answers:
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert headers["cache-control"] == "no-store"
        assert headers["server"] == "Herald"
        assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
        assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", headers["date"])
    assert len({headers["x-request-id"] for _, headers, _ in answers}) == 3
    assert scrape(server)[FROM_MEMORY] - before == 2


def test_errors_and_waits_on_a_warm_connection_are_still_the_routers(server):
    token = reader(server)
    with open_socket(server) as sock:
        sock.sendall(request("/api/notifications?since=0", token))
        assert read_response(sock)[0] == 200
        sock.sendall(request("/api/notifications?since=9", token))
        status, _, body = read_response(sock)
        assert status == 400 and '"code":"cursor_ahead"' in body
        sock.sendall(request("/api/notifications?since=abc", token))
        status, _, body = read_response(sock)
        assert status == 400 and '"code":"invalid_cursor"' in body
        sock.sendall(request("/api/notifications?since=0", "hrd_not-a-token"))
        assert read_response(sock)[0] == 401
        start = time.monotonic()
        sock.sendall(request("/api/notifications?since=1&wait=0.5", token))
        status, _, body = read_response(sock)
        assert status == 200 and body == "[]" and time.monotonic() - start >= 0.45


def test_responses_keep_request_order_behind_a_long_poll(server):
    token = reader(server)
    with open_socket(server) as sock:
        sock.sendall(request("/api/notifications?since=0", token))
        read_response(sock)
        # Pipelined: a long-poll the router holds for a second, then a poll memory could answer at once.
        sock.sendall(request("/api/notifications?since=1&wait=1", token, "first")
                     + request("/api/notifications?since=0", token, "second"))
        first = read_response(sock)
        second = read_response(sock)
    assert (first[1]["x-request-id"], first[2]) == ("first", "[]")
    assert second[1]["x-request-id"] == "second" and '"seq":1' in second[2]


def test_polls_answered_from_memory_are_counted_in_the_request_metrics(server):
    token = reader(server)
    key = 'hb_requests{http_route="/api/notifications",http_request_method="GET",http_response_status_code="200"}'
    samples = scrape(server)
    before, before_memory = samples.get(key, 0), samples[FROM_MEMORY]
    for polls in (1, 5):  # the router looks the token up; then, on a fresh connection, memory answers
        with open_socket(server) as sock:
            for _ in range(polls):
                sock.sendall(request("/api/notifications?since=0", token))
                assert read_response(sock)[0] == 200
    samples = scrape(server)
    assert samples[key] - before == 6
    assert samples[FROM_MEMORY] - before_memory == 5


def test_polls_from_memory_keep_a_connection_alive_and_idleness_still_closes_it(server):
    token = reader(server)
    with open_socket(server) as sock:
        # Five seconds of polls, well past the 2 s idle timeout, all on one connection.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            sock.sendall(request("/api/notifications?since=0", token))
            assert read_response(sock)[0] == 200
            time.sleep(0.5)
        received, waited = closed_within(sock, 5)
        assert received == b"" and 1.0 <= waited <= 4


def test_a_kept_alive_polling_connection_does_not_hold_up_shutdown():
    with running_herald("herald-fastpath-stop-") as herald:
        token = reader(herald)
        with open_socket(herald) as sock:
            for _ in range(3):
                sock.sendall(request("/api/notifications?since=0", token))
                assert read_response(sock)[0] == 200
            start = time.monotonic()
            assert herald.stop() == 0
            assert time.monotonic() - start < 5
