"""The limits that keep one client from holding what belongs to all: time to send a request,
idle connections, rate limits, sizes."""
import select
import socket
import tempfile
import time

import pytest
import requests
from websockets.sync.client import connect

from conftest import Herald, running_herald
from test_sse import new_user


@pytest.fixture(scope="module")
def strict():
    """Short timeouts, so the tests see them act."""
    with running_herald("herald-limits-", HERALD_REQUEST_HEAD_TIMEOUT_SECONDS="1",
                        HERALD_IDLE_TIMEOUT_SECONDS="2", HERALD_HEARTBEAT_SECONDS="1") as herald:
        yield herald


def open_socket(herald):
    host, port = herald.base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_within(sock, seconds):
    """Reads until the server closes; returns what it sent and how long that took."""
    start, received = time.monotonic(), b""
    sock.settimeout(seconds)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s") from None
    except ConnectionResetError:
        pass
    return received, time.monotonic() - start


@pytest.mark.parametrize("sent", [b"", b"GET /api/ev", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n",
                                  b"GET /api/events HTTP/1.1\r\nHost: x\r\n"])
def test_a_connection_that_does_not_finish_its_request_head_is_closed(strict, sent):
    sock = open_socket(strict)
    sock.sendall(sent)
    received, elapsed = closed_within(sock, 8)
    assert received == b"" and elapsed < 8


def test_a_kept_alive_connection_left_idle_is_closed(strict):
    sock = open_socket(strict)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    received, elapsed = closed_within(sock, 10)
    assert received.startswith(b"HTTP/1.1 200") and 1.5 < elapsed < 10


def test_held_streams_outlive_the_timeouts(strict):
    name, token = new_user(strict)
    auth = {"Authorization": f"Bearer {token}"}
    # SSE as a connection's first request (Herald's lean path) and as a kept-alive connection's
    # second (Hummingbird's); a WebSocket; a long-poll held longer than the idle timeout.
    lean = requests.get(strict.base + "/api/events", headers=auth, stream=True, timeout=(5, 10))
    session = requests.Session()
    assert session.get(strict.base + "/healthz", timeout=5).status_code == 200
    kept = session.get(strict.base + "/api/events", headers=auth, stream=True, timeout=(5, 10))
    ws = connect(strict.base.replace("http://", "ws://") + "/ws", additional_headers=auth, open_timeout=5).__enter__()
    try:
        started = time.monotonic()
        poll = requests.get(strict.base + "/api/notifications?since=0&wait=4", headers=auth, timeout=10)
        assert poll.status_code == 200 and poll.json() == [] and time.monotonic() - started >= 3.5
        for stream in (lean, kept):
            lines = stream.iter_lines()
            assert next(lines).startswith(b"retry:")
            assert any(line.startswith(b":") for line, _ in zip(lines, range(10)))  # heartbeats, still coming
        strict.publish(user=name, name="late", data=1, mode="append")
        ws.send('{"id": 1, "type": "subscribe", "stream": "user", "since": 0}')
        assert '"late"' in "".join(ws.recv(timeout=5) for _ in range(2))
    finally:
        lean.close()
        kept.close()
        ws.__exit__(None, None, None)


# --- Rate limits and sizes ---------------------------------------------------------------------

def limited(**settings):
    herald = Herald(tempfile.mkdtemp(prefix="herald-limits-"), **{f"HERALD_LIMITS_{k}": str(v) for k, v in settings.items()})
    return herald.start()


def try_login(herald, name, password):
    session = requests.Session()
    page = session.get(herald.base + "/login", timeout=5).text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = session.post(herald.base + "/login", data={"csrf_token": csrf, "username": name, "password": password},
                            allow_redirects=False, timeout=5)
    return response, session


def test_failed_logins_per_username_are_limited_and_the_right_password_waits_too():
    herald = limited(LOGIN_FAILURES_PER_USER=3)
    try:
        herald.add_user("carol", "carol-password")
        herald.add_user("dave", "dave-password")
        for _ in range(3):
            assert try_login(herald, "carol", "guess")[0].status_code == 401
        response, session = try_login(herald, "Carol", "carol-password")
        assert response.status_code == 429 and "Too many failed logins" in response.text
        assert 1 <= int(response.headers["Retry-After"]) <= 900
        assert "herald_session" not in session.cookies
        # Another username is not held up by carol's guesser.
        assert try_login(herald, "dave", "dave-password")[0].status_code == 303
    finally:
        herald.stop()


def test_failed_logins_per_address_are_limited_whatever_the_usernames():
    herald = limited(LOGIN_FAILURES_PER_USER=0, LOGIN_FAILURES_PER_IP=4)
    try:
        herald.add_user("erin", "erin-password")
        for n in range(4):
            assert try_login(herald, f"nobody{n}", "guess")[0].status_code == 401
        response, _ = try_login(herald, "erin", "erin-password")
        assert response.status_code == 429 and "Retry-After" in response.headers
    finally:
        herald.stop()


def test_a_successful_login_clears_the_usernames_failures():
    herald = limited(LOGIN_FAILURES_PER_USER=3)
    try:
        herald.add_user("frank", "frank-password")
        for _ in range(2):
            try_login(herald, "frank", "guess")
        assert try_login(herald, "frank", "frank-password")[0].status_code == 303
        for _ in range(2):
            assert try_login(herald, "frank", "guess")[0].status_code == 401
        assert try_login(herald, "frank", "frank-password")[0].status_code == 303
    finally:
        herald.stop()


def test_publishes_past_the_rate_are_429_and_written_nowhere():
    herald = limited(PUBLISHES_PER_SECOND=5)
    try:
        name, token = new_user(herald)
        auth = {"Authorization": f"Bearer {herald.key()}"}
        answers = [requests.post(herald.base + "/api/publish", json={"user": name, "name": "n", "data": i, "mode": "append"},
                                 headers=auth, timeout=5) for i in range(12)]
        statuses = [a.status_code for a in answers]
        assert statuses.count(201) >= 5 and 429 in statuses, statuses
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
        written = requests.get(herald.base + "/api/notifications?since=0", headers={"Authorization": f"Bearer {token}"},
                               timeout=5).json()
        assert [n["data"] for n in written] == [i for i, s in enumerate(statuses) if s == 201]
        # A user's own allowance is its own: over /ws too, as an error frame.
        with connect(herald.base.replace("http://", "ws://") + "/ws",
                     additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5) as ws:
            codes = []
            for i in range(8):
                ws.send(f'{{"id": {i}, "type": "publish", "channel": "rl", "name": "x", "data": {i}}}')
                codes.append(ws.recv(timeout=5))
            assert any('"rate_limited"' in c for c in codes) and any('"seq"' in c for c in codes), codes
    finally:
        herald.stop()


def test_connections_per_address_past_the_limit_are_refused_with_429():
    herald = limited(HELD_CONNECTIONS_PER_IP=5)
    try:
        time.sleep(0.3)  # the start-up health checks' connections close
        # Six connections, and one of them refused. Which one is the kernel's to say: each event
        # loop accepts from a listener of its own, so connections are not accepted in the order
        # they were opened.
        opened = [open_socket(herald) for _ in range(6)]
        readable, _, _ = select.select(opened, [], [], 5)
        assert len(readable) >= 1, "no connection was refused"
        extra = readable[0]
        received, _ = closed_within(extra, 5)
        assert received.startswith(b"HTTP/1.1 429") and b"too_many_connections" in received and b"Retry-After:" in received
        held = [sock for sock in opened if sock is not extra]
        assert select.select(held, [], [], 0.3)[0] == [], "more than one connection was refused"
        held.pop().close()
        time.sleep(0.3)
        assert requests.get(herald.base + "/healthz", timeout=5).status_code == 200
        for sock in held:
            sock.close()
    finally:
        herald.stop()


def test_new_connections_past_the_rate_are_refused_with_429():
    herald = limited(NEW_CONNECTIONS_PER_IP_PER_SECOND=1)  # ten at once, then one a second
    try:
        answers = []
        for _ in range(15):
            sock = open_socket(herald)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answers.append(closed_within(sock, 5)[0])
            sock.close()
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 429")]
        assert refused and b"too_many_new_connections" in refused[0] and b"Retry-After:" in refused[0]
        assert answers[0].startswith(b"HTTP/1.1 200")
    finally:
        herald.stop()


def test_streams_per_connection_are_limited_on_every_transport():
    herald = limited(STREAMS_PER_CONNECTION=3)
    try:
        name, token = new_user(herald)
        auth = {"Authorization": f"Bearer {token}"}
        ok = requests.get(herald.base + "/api/events?channel=a&channel=b", headers=auth, stream=True, timeout=(5, 10))
        assert ok.status_code == 200
        ok.close()
        refused = requests.get(herald.base + "/api/events?channel=a&channel=b&channel=c", headers=auth, timeout=5)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "too_many_streams"
        with connect(herald.base.replace("http://", "ws://") + "/ws", additional_headers=auth, open_timeout=5) as ws:
            answers = []
            for i, stream in enumerate(["user", "channel:a", "channel:b", "channel:a", "channel:c"]):
                ws.send(f'{{"id": {i}, "type": "subscribe", "stream": "{stream}"}}')
                answers.append(ws.recv(timeout=5))
            assert all('"error"' not in a for a in answers[:4]), answers  # resubscribing a stream is no new one
            assert '"too_many_streams"' in answers[4], answers
    finally:
        herald.stop()


def test_deeply_nested_json_is_refused_for_its_depth():
    herald = limited()
    try:
        nested = "[" * 600 + "]" * 600
        response = requests.post(herald.base + "/api/publish", data='{"channel": "d", "name": "x", "data": ' + nested + "}",
                                 headers={"Authorization": f"Bearer {herald.key()}", "Content-Type": "application/json"}, timeout=5)
        assert response.status_code == 400 and "deep" in response.json()["error"]["message"], response.text
        too_big = requests.post(herald.base + "/api/publish", data="x" * 70_000,
                                headers={"Authorization": f"Bearer {herald.key()}", "Content-Type": "application/json"}, timeout=5)
        assert too_big.status_code == 413 and "65536 bytes" in too_big.json()["error"]["message"]
    finally:
        herald.stop()
