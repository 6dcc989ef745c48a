"""Publishes and messages are answered on the event loop that read them: the router and all its
middleware run there, outside Hummingbird's per-connection task. Seen from outside, nothing may
tell the two ways apart: the same answers and errors, responses in request order whatever is
pipelined, and bodies over the limit refused as the route refuses them."""
import json
import socket

import pytest

from conftest import running_herald
from test_limits import open_socket
from test_metrics import scrape
from test_polling_fast_path import read_response
from test_polling_fast_path import request as poll
from test_sse import new_user

ON_LOOP = "herald_requests_answered_on_event_loop_total"


@pytest.fixture(scope="module")
def server():
    with running_herald("herald-writes-", HERALD_MAX_REQUEST_BODY="4096") as herald:
        yield herald


def post(path, token, body, request_id=None, close=False, chunked=False):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", "Host: herald", f"Authorization: Bearer {token}",
             "Content-Type: application/json"]
    if request_id:
        lines.append(f"X-Request-ID: {request_id}")
    if close:
        lines.append("Connection: close")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(data) // 2
        data = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (data[:half], data[half:])) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def answer(server, raw):
    """The response to `raw` on a connection of its own."""
    with open_socket(server) as sock:
        sock.sendall(raw)
        return read_response(sock)


def test_writes_answered_on_the_loop_match_the_routers_answers(server):
    alice, alice_token = new_user(server)
    bob, _ = new_user(server)
    key = server.key()
    cases = [
        ("/api/publish", key, {"user": bob, "name": "ping", "data": {"n": 1}}),
        ("/api/publish", key, {"channel": "loop-room", "name": "ping", "data": [1, 2]}),
        ("/api/publish", key, b'{"user": '),
        ("/api/publish", key, {"user": "nobody-at-all", "name": "ping"}),
        ("/api/publish", key, {"user": bob, "name": "herald.reset"}),
        ("/api/publish", alice_token, {"user": bob, "name": "ping"}),
        ("/api/publish", "hrk_not-a-key", {"user": bob, "name": "ping"}),
        ("/api/messages", alice_token, {"to": bob, "body": "hello"}),
        ("/api/messages", alice_token, {"to": alice, "body": "me"}),
        ("/api/messages", alice_token, {"to": "nobody-at-all", "body": "hi"}),
        ("/api/messages", alice_token, {"to": bob, "body": ""}),
        ("/api/messages", key, {"to": bob, "body": "from a key"}),
    ]
    before = scrape(server)[ON_LOOP]
    for path, token, body in cases:
        on_loop = answer(server, post(path, token, body))
        routed = answer(server, post(path, token, body, close=True))
        assert on_loop[0] == routed[0], (path, body, on_loop, routed)
        assert set(on_loop[1]) == set(routed[1]) - {"connection"}, (path, body)
        if on_loop[0] >= 400:
            assert on_loop[2] == routed[2], (path, body)
            assert json.loads(on_loop[2])["error"]["code"]
        else:
            assert on_loop[0] == 201
            assert json.loads(on_loop[2]).keys() == json.loads(routed[2]).keys()
    assert scrape(server)[ON_LOOP] - before == len(cases)


def test_a_publish_on_the_loop_is_persisted_and_delivered(server):
    name, token = new_user(server)
    status, _, body = answer(server, post("/api/publish", server.key(), {"user": name, "name": "hi", "data": {"a": 1}}))
    assert status == 201 and json.loads(body) == {"seq": 1}
    with open_socket(server) as sock:
        sock.sendall(poll("/api/notifications?since=0", token))
        status, _, body = read_response(sock)
    events = json.loads(body)
    assert status == 200 and [(e["seq"], e["name"], e["data"]) for e in events] == [(1, "hi", {"a": 1})]


def test_pipelined_writes_and_polls_come_back_in_request_order(server):
    name, token = new_user(server)
    other, _ = new_user(server)
    key = server.key()
    with open_socket(server) as sock:
        sock.sendall(post("/api/publish", key, {"user": name, "name": "one"}, "r1")
                     + poll("/api/notifications?since=0", token, "r2")
                     + post("/api/publish", key, {"user": name, "name": "two"}, "r3")
                     + post("/api/messages", token, {"to": other, "body": "hi"}, "r4")
                     + post("/api/publish", key, b"not json", "r5")
                     + poll("/api/notifications?since=1", token, "r6"))
        responses = [read_response(sock) for _ in range(6)]
    assert [headers["x-request-id"] for _, headers, _ in responses] == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert [status for status, _, _ in responses] == [201, 200, 201, 201, 400, 200]
    assert json.loads(responses[0][2]) == {"seq": 1}
    assert [e["name"] for e in json.loads(responses[1][2])] == ["one"]
    assert json.loads(responses[2][2]) == {"seq": 2}
    assert json.loads(responses[3][2])["to"] == other
    assert [e["name"] for e in json.loads(responses[5][2])] == ["two"]


def test_bodies_over_the_limit_are_refused_as_the_route_refuses_them(server):
    name, _ = new_user(server)
    key = server.key()
    big = json.dumps({"user": name, "name": "big", "data": "x" * 5000}).encode()
    with open_socket(server) as sock:
        # Declared too long: handed to the router at once. Sent chunked: handed on once it grows
        # past the limit. The connection serves a publish on the loop after each.
        for raw in (post("/api/publish", key, big), post("/api/publish", key, big, chunked=True)):
            sock.sendall(raw)
            status, _, body = read_response(sock)
            assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
            sock.sendall(post("/api/publish", key, {"user": name, "name": "small"}))
            assert read_response(sock)[0] == 201


def test_a_chunked_publish_is_answered_on_the_loop(server):
    name, _ = new_user(server)
    before = scrape(server)[ON_LOOP]
    status, _, body = answer(server, post("/api/publish", server.key(), {"user": name, "name": "c"}, chunked=True))
    assert status == 201 and json.loads(body) == {"seq": 1}
    assert scrape(server)[ON_LOOP] - before == 1


def test_a_publishs_data_is_stored_and_served_as_sent_but_for_whitespace(server):
    name, token = new_user(server)
    body = ('{"user": "%s", "name": "exact", "data": {\n  "z": 1, "a": 12345678901234567890,\n'
            '  "f": 1.50, "s": "\\u00e9 \\" x", "l": [ 1 , { } ] } }' % name).encode()
    assert answer(server, post("/api/publish", server.key(), body))[0] == 201
    with open_socket(server) as sock:
        sock.sendall(poll("/api/notifications?since=0", token))
        status, _, text = read_response(sock)
    assert status == 200
    assert '"data":{"z":1,"a":12345678901234567890,"f":1.50,"s":"\\u00e9 \\" x","l":[1,{}]}' in text


def test_what_follows_a_write_on_its_connection_waits_for_its_answer(server):
    name, _ = new_user(server)
    key = server.key()
    # The client stops sending right after two pipelined publishes: both are still answered.
    with open_socket(server) as sock:
        sock.sendall(post("/api/publish", key, {"user": name, "name": "a"}, "h1")
                     + post("/api/publish", key, {"user": name, "name": "b"}, "h2"))
        sock.shutdown(socket.SHUT_WR)
        answers = [read_response(sock) for _ in range(2)]
    assert [(status, headers["x-request-id"], json.loads(body)) for status, headers, body in answers] \
        == [(201, "h1", {"seq": 1}), (201, "h2", {"seq": 2})]
    # Bytes that are no HTTP after a publish: the publish is answered first, then the 400.
    with open_socket(server) as sock:
        sock.sendall(post("/api/publish", key, {"user": name, "name": "c"}, "g1") + b"NOT HTTP\r\n\r\n")
        status, headers, body = read_response(sock)
        assert (status, headers["x-request-id"], json.loads(body)) == (201, "g1", {"seq": 3})
        assert read_response(sock)[0] == 400


def test_a_body_over_four_kilobytes_goes_to_the_router_and_is_answered_there():
    with running_herald("herald-writes-big-") as herald:
        name, _ = new_user(herald)
        before = scrape(herald)[ON_LOOP]
        body = {"user": name, "name": "big", "data": "x" * 5000}
        for chunked in (False, True):
            status, _, text = answer(herald, post("/api/publish", herald.key(), body, chunked=chunked))
            assert status == 201 and "seq" in json.loads(text)
        assert scrape(herald)[ON_LOOP] == before
