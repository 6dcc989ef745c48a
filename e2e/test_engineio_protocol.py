"""Engine.IO v4 against `socketio-conformance --suite engine.io` (an echo engine at /engine.io/),
with raw clients: every rule of the official engine.io-protocol test suite, stricter where the
reference (Node engine.io 6) is, plus hostile input that must stay inside its own session.

Reference configuration: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000.
"""
import base64
import concurrent.futures
import json
import random
import subprocess
import time

import pytest
from websockets.exceptions import InvalidStatus

from socketio_conformance import (
    MAX_PAYLOAD, ConformanceServer, Peer, Poller, assert_error, assert_open_packet, assert_ping_gap,
    assert_session_gone, engine_ws, engineio_server, get, http, polling_handshake, post, read_line)

assert engineio_server  # the fixture, imported for pytest

pool = concurrent.futures.ThreadPoolExecutor(max_workers=8)


@pytest.fixture
def server(engineio_server):
    yield engineio_server
    engineio_server.assert_alive()


@pytest.fixture
def bystander(server):
    """Another session, open before a test's hostile input, that must not notice it."""
    peer = engine_ws(server, auto_pong=True)
    yield peer
    peer.close()


def assert_unaffected(server, bystander):
    server.assert_alive()
    bystander.send("4still here")
    assert bystander.next_non_ping() == "4still here"
    poller = Poller(server)
    poller.post("4new session")
    assert poller.get() == ["4new session"]


def ws_refusal(url):
    try:
        Peer(url).close()
    except InvalidStatus as refused:
        return refused.response
    raise AssertionError(f"the upgrade to {url} was accepted")


def assert_json_refusal(response, status, code, message):
    assert response.status_code == status, (response.status_code, response.body)
    assert bytes(response.body) == json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()


def test_listening_line_reaches_a_pipe():
    """`--port 0` prints the port on stdout; a script reads it through a pipe, so it must be
    flushed at once, not held in the stdio buffer until exit."""
    probe = ConformanceServer("engine.io")
    process = subprocess.Popen(probe.command(line_buffered=False), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        line = read_line(process.stdout, 5)
        assert line is not None and "socketio-conformance (engine.io) listening on port" in line, \
            "no listening line on a piped stdout within 5 s (Swift `print` is block-buffered on a pipe)"
        port = int(line.rsplit(" ", 1)[1])
        assert get(f"http://127.0.0.1:{port}/engine.io/?EIO=4&transport=polling").status_code == 200
    finally:
        process.kill()
        process.wait(timeout=10)
        probe.stderr.close()


# --- handshake ---------------------------------------------------------------------------------

def test_polling_handshake(server):
    started = time.monotonic()
    response = get(server.url(foo="bar"))  # unknown query parameters are ignored
    assert response.status_code == 200
    handshake = assert_open_packet(response.text, ["websocket"])
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert time.monotonic() - started < 0.2
    assert polling_handshake(server) != handshake["sid"]


def test_websocket_handshake(server):
    peer = engine_ws(server)  # checks the first frame: `0{...}` with upgrades []
    try:
        # Nothing follows the open packet until the first ping, 300 ms after it.
        assert peer.next(1) == "2"
        assert_ping_gap(peer.opened_at)
    finally:
        peer.close()


@pytest.mark.parametrize("query, code, message", [
    ({"eio": None}, 5, "Unsupported protocol version"),
    ({"eio": "abc"}, 5, "Unsupported protocol version"),
    ({"eio": "3"}, 5, "Unsupported protocol version"),
    ({"transport": None}, 0, "Transport unknown"),
    ({"transport": "abc"}, 0, "Transport unknown"),
    ({"transport": None, "eio": None}, 0, "Transport unknown"),  # transport is checked first
    ({"transport": "websocket"}, 3, "Bad request"),  # a plain GET cannot be a WebSocket
    ({"sid": "no-such-session"}, 1, "Session ID unknown"),
], ids=["no-EIO", "EIO-abc", "EIO-3", "no-transport", "transport-abc", "neither", "websocket-over-http", "sid"])
def test_polling_handshake_errors(server, query, code, message):
    assert_error(get(server.url(**query)), 400, code, message)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_handshake_must_be_a_get(server, method):
    with http() as session:
        response = session.request(method, server.url(), data=b"", timeout=5)
    assert_error(response, 400, 2, "Bad handshake method")


def test_cors_preflight(server):
    with http() as session:
        response = session.options(server.url(), timeout=5, headers={
            "Origin": "http://example.test", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("query, code, message", [
    ({"eio": None}, 5, "Unsupported protocol version"),
    ({"eio": "abc"}, 5, "Unsupported protocol version"),
    ({"transport": None}, 0, "Transport unknown"),
    ({"transport": "abc"}, 0, "Transport unknown"),
    ({"transport": "websocket", "sid": "no-such-session"}, 1, "Session ID unknown"),
], ids=["no-EIO", "EIO-abc", "no-transport", "transport-abc", "unknown-sid"])
def test_websocket_handshake_errors(server, query, code, message):
    query.setdefault("transport", "websocket")
    assert_json_refusal(ws_refusal(server.url(ws=True, **query)), 400, code, message)


def test_websocket_upgrade_request_with_transport_polling_opens_no_session(server):
    """An Upgrade request naming transport=polling is refused (Node accepts it, then closes it);
    it must not be answered as a polling handshake."""
    try:
        peer = Peer(server.url("polling", ws=True))
    except InvalidStatus as refused:
        assert refused.response.status_code == 400, (refused.response.status_code, bytes(refused.response.body))
        return
    assert peer.wait_closed(0.15, since=peer.opened_at, allow=()) < 0.15


# --- messages over long-polling ----------------------------------------------------------------

def test_polling_one_packet(server):
    poller = Poller(server)
    response = post(server.url(sid=poller.sid), "4hello")
    assert (response.status_code, response.text) == (200, "ok")
    started = time.monotonic()
    response = get(server.url(sid=poller.sid))
    assert (response.status_code, response.text) == (200, "4hello")
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert time.monotonic() - started < 0.15, "the echo was not queued: the GET waited"


def test_polling_several_packets_in_one_response(server):
    poller = Poller(server)
    poller.post("4test1\x1e4test2\x1e4test3")
    assert get(server.url(sid=poller.sid)).text == "4test1\x1e4test2\x1e4test3"


def test_polling_text_and_binary_packets(server):
    poller = Poller(server)
    poller.post("4hello\x1ebAQIDBA==")
    assert get(server.url(sid=poller.sid)).text == "4hello\x1ebAQIDBA=="
    every_byte = bytes(range(256))
    poller.post("b" + base64.b64encode(every_byte).decode())
    assert get(server.url(sid=poller.sid)).text == "b" + base64.b64encode(every_byte).decode()


def test_polling_utf8_and_empty_messages(server):
    poller = Poller(server)
    poller.post("4héllo ☃ 😀\x1e4\x1eb")
    assert get(server.url(sid=poller.sid)).content == "4héllo ☃ 😀\x1e4\x1eb".encode()


def test_pending_get_is_answered_by_the_next_message(server):
    poller = Poller(server)
    pending = pool.submit(get, server.url(sid=poller.sid))
    time.sleep(0.05)
    sent = time.monotonic()
    poller.post("4wake up")
    assert pending.result().text == "4wake up"
    assert time.monotonic() - sent < 0.15


def test_polling_invalid_packet_closes_the_session(server, bystander):
    sid = polling_handshake(server)
    assert post(server.url(sid=sid), "abc").status_code == 400
    assert_session_gone(server, sid)
    assert_unaffected(server, bystander)


def test_duplicate_poll_closes_the_session(server):
    sid = polling_handshake(server)
    first = pool.submit(get, server.url(sid=sid))
    time.sleep(0.005)
    second = pool.submit(get, server.url(sid=sid, t="burst"))
    assert second.result().status_code == 400
    first = first.result()
    assert (first.status_code, first.text) == (200, "1")
    assert_session_gone(server, sid)


def test_polling_max_payload(server):
    poller = Poller(server)
    largest = "4" + "a" * (MAX_PAYLOAD - 1)
    poller.post(largest)
    assert get(server.url(sid=poller.sid)).text == largest
    response = post(server.url(sid=poller.sid), largest + "a")
    assert response.status_code == 413, (response.status_code, response.text[:200])
    assert_session_gone(server, poller.sid)


# --- messages over WebSocket -------------------------------------------------------------------

def test_websocket_text_echo(server):
    peer = engine_ws(server)
    try:
        peer.send("4hello")
        assert peer.next() == "4hello"
        peer.send("4héllo ☃ 😀")
        assert peer.next() == "4héllo ☃ 😀"
        peer.send("4")
        assert peer.next() == "4"
    finally:
        peer.close()


def test_websocket_binary_echo(server):
    peer = engine_ws(server)
    try:
        for payload in (bytes([1, 2, 3, 4]), bytes(range(256)), b""):
            peer.send(payload)
            echo = peer.next()
            assert isinstance(echo, bytes) and echo == payload, echo  # a raw binary frame, no `b`/`4`
    finally:
        peer.close()


@pytest.mark.parametrize("packet", ["abc", "", "7", "\x00", "9message", "-1"])
def test_websocket_invalid_packet_closes_at_once(server, bystander, packet):
    peer = engine_ws(server)
    sent = time.monotonic()
    peer.send(packet)
    assert peer.wait_closed(0.15, since=sent) < 0.15
    assert_unaffected(server, bystander)


def test_websocket_max_payload(server):
    for kind in ("text", "binary"):
        peer = engine_ws(server, auto_pong=True)
        largest = "4" + "a" * (MAX_PAYLOAD - 1) if kind == "text" else bytes(MAX_PAYLOAD)
        peer.send(largest)
        assert peer.next_non_ping(5) == largest
        sent = time.monotonic()
        peer.send(largest + (b"\x00" if kind == "binary" else "a"))
        assert peer.wait_closed(1, since=sent) < 1
        assert peer.close_code == 1009, (kind, peer.close_code)


# --- heartbeat ---------------------------------------------------------------------------------

def test_polling_ping_pong(server):
    poller = Poller(server)
    last = time.monotonic()
    for _ in range(3):
        response = get(server.url(sid=poller.sid))
        assert (response.status_code, response.text) == (200, "2")
        # Each ping comes pingInterval after the handshake or the previous pong.
        assert_ping_gap(last)
        response = post(server.url(sid=poller.sid), "3")
        assert (response.status_code, response.text) == (200, "ok")
        last = time.monotonic()


def test_polling_ping_timeout(server):
    sid = polling_handshake(server)
    time.sleep(0.6)
    assert_session_gone(server, sid)


def test_polling_ping_timeout_flushes_the_pending_poll_with_close(server):
    sid = polling_handshake(server)
    handshake = time.monotonic()
    time.sleep(0.35)
    assert get(server.url(sid=sid)).text == "2"
    response = get(server.url(sid=sid))  # held, and never a pong
    assert (response.status_code, response.text) == (200, "1")
    assert 0.45 < time.monotonic() - handshake < 0.7
    assert_session_gone(server, sid)


def test_websocket_ping_pong(server):
    peer = engine_ws(server)
    try:
        last = peer.opened_at
        for _ in range(3):
            assert peer.next(1) == "2"
            assert_ping_gap(last)
            peer.send("3")
            last = time.monotonic()
        assert not peer.closed.is_set()
    finally:
        peer.close()


def test_websocket_ping_timeout(server):
    peer = engine_ws(server)
    assert peer.next(1) == "2"
    elapsed = peer.wait_closed(1.5, since=peer.opened_at, allow=())
    assert 0.45 < elapsed < 0.7, elapsed


# --- close -------------------------------------------------------------------------------------

def test_polling_client_close(server):
    sid = polling_handshake(server)
    pending = pool.submit(get, server.url(sid=sid))
    time.sleep(0.05)
    closing = post(server.url(sid=sid), "1")
    assert (closing.status_code, closing.text) == (200, "ok")
    pending = pending.result()
    assert (pending.status_code, pending.text) == (200, "6")
    assert_session_gone(server, sid)


def test_websocket_client_close(server):
    peer = engine_ws(server)
    sent = time.monotonic()
    peer.send("1")
    assert peer.wait_closed(0.15, since=sent, allow=()) < 0.15


# --- upgrade -----------------------------------------------------------------------------------

def probe(server, sid):
    peer = engine_ws(server, sid=sid)
    peer.send("2probe")
    assert peer.next() == "3probe"  # the first frame: no open packet on an upgrade
    return peer


def test_upgrade(server):
    sid = polling_handshake(server)
    peer = probe(server, sid)
    try:
        asked = time.monotonic()
        response = get(server.url(sid=sid))
        assert (response.status_code, response.text) == (200, "6")
        assert time.monotonic() - asked < 0.2
        peer.send("5")
        peer.send("4hello")
        assert peer.next() == "4hello"
        assert_error(get(server.url(sid=sid)), 400, 3, "Bad request")
        assert_error(post(server.url(sid=sid), "4x"), 400, 3, "Bad request")
        peer.send(b"\x01\x02")
        assert peer.next() == b"\x01\x02"
    finally:
        peer.close()


def test_upgrade_answers_a_pending_poll_with_noop(server):
    sid = polling_handshake(server)
    pending = pool.submit(get, server.url(sid=sid))
    time.sleep(0.05)
    peer = probe(server, sid)
    try:
        probed = time.monotonic()
        assert pending.result().text == "6"
        assert time.monotonic() - probed < 0.2
        peer.send("5")
        peer.send("4hello")
        assert peer.next() == "4hello"
    finally:
        peer.close()


def test_upgrade_without_waiting_for_the_probe_reply(server):
    sid = polling_handshake(server)
    peer = engine_ws(server, sid=sid)
    try:
        peer.send("2probe")
        peer.send("5")
        assert peer.next() == "3probe"
        assert_error(get(server.url(sid=sid)), 400, 3, "Bad request")
        peer.send("4hello")
        assert peer.next() == "4hello"
    finally:
        peer.close()


def test_upgrade_flushes_buffered_packets_over_the_websocket(server):
    sid = polling_handshake(server)
    response = post(server.url(sid=sid), "4buffered1\x1ebBQY=\x1e4buffered2")  # echoes wait for a GET
    assert response.text == "ok"
    peer = probe(server, sid)
    try:
        peer.send("5")
        assert [peer.next(), peer.next(), peer.next()] == ["4buffered1", b"\x05\x06", "4buffered2"]
    finally:
        peer.close()


def test_message_on_the_upgrading_websocket_is_not_lost(server):
    """Before `5`, the WebSocket is only a probe. A message sent on it then must either be
    delivered or fail the probe (Node closes the probe socket); it must not vanish."""
    sid = polling_handshake(server)
    peer = engine_ws(server, sid=sid, auto_pong=True)
    try:
        peer.send("2probe")
        assert peer.next() == "3probe"
        peer.send("4early")
        time.sleep(0.05)
        if not peer.closed.is_set():
            peer.send("5")
            peer.send("4after")
            assert [peer.next_non_ping(0.5), peer.next_non_ping(0.5)] == ["4early", "4after"]
    finally:
        peer.close()


def test_second_websocket_with_the_same_sid_is_closed(server):
    sid = polling_handshake(server)
    first = engine_ws(server, sid=sid)
    try:
        first.send("2probe")
        first.send("5")
        assert first.next() == "3probe"
        # Accepted (101), as Node does, so a client without an error listener does not throw; then closed.
        second = Peer(server.url("websocket", sid=sid, ws=True))
        assert second.wait_closed(0.15, since=second.opened_at, allow=()) < 0.15
        first.send("4hello")
        assert first.next() == "4hello"
    finally:
        first.close()


def test_second_websocket_during_the_probe_is_closed(server):
    sid = polling_handshake(server)
    first = probe(server, sid)
    try:
        second = Peer(server.url("websocket", sid=sid, ws=True))
        assert second.wait_closed(0.15, since=second.opened_at, allow=()) < 0.15
        first.send("5")
        first.send("4hello")
        assert first.next() == "4hello"
    finally:
        first.close()


def test_websocket_session_cannot_be_upgraded_again(server):
    original = engine_ws(server, auto_pong=True)
    try:
        try:
            again = Peer(server.url("websocket", sid=original.sid, ws=True))
        except InvalidStatus as refused:
            assert refused.response.status_code == 400
        else:
            assert again.wait_closed(0.15, since=again.opened_at, allow=()) < 0.15
        original.send("4hello")
        assert original.next_non_ping() == "4hello"
    finally:
        original.close()


# --- hostile input -----------------------------------------------------------------------------

@pytest.mark.parametrize("body, content_type", [
    (bytes(random.Random(1).randrange(256) for _ in range(4096)), "application/octet-stream"),
    (bytes(random.Random(2).randrange(256) for _ in range(4096)), "text/plain;charset=UTF-8"),
    (b"\x00" * 1000, "text/plain;charset=UTF-8"),
    (b"", "text/plain;charset=UTF-8"),
    (b"\x1e", "text/plain;charset=UTF-8"),
    (b"4a\x1e\x1e4b", "text/plain;charset=UTF-8"),
    (b"4a\x1e", "text/plain;charset=UTF-8"),
    (b"\x1e4a", "text/plain;charset=UTF-8"),
    (b"\x1e" * 100000, "text/plain;charset=UTF-8"),
    (b"9" * 100000, "text/plain;charset=UTF-8"),
], ids=["random-octets", "random-text", "nul", "empty", "separator", "empty-middle", "empty-last",
        "empty-first", "100k-separators", "100k-digits"])
def test_garbage_post_body_closes_only_its_session(server, bystander, body, content_type):
    sid = polling_handshake(server)
    response = post(server.url(sid=sid), body, headers={"Content-Type": content_type})
    assert response.status_code == 400, (response.status_code, response.text[:200])
    assert_session_gone(server, sid)
    assert_unaffected(server, bystander)


def test_invalid_utf8_text_body_does_not_break_the_session(server, bystander):
    poller = Poller(server)
    response = post(server.url(sid=poller.sid), b"4\xff\xfe\xc3", headers={"Content-Type": "text/plain"})
    if response.status_code == 200:
        echo = get(server.url(sid=poller.sid))
        assert echo.status_code == 200 and echo.text.startswith("4")
        poller.post("4fine")
        assert poller.get() == ["4fine"]
    else:
        assert response.status_code == 400
        assert_session_gone(server, poller.sid)
    assert_unaffected(server, bystander)


@pytest.mark.parametrize("body", ["bAQI", "bAQIDBA", "b AQID", "bAQID\n", "b!!!!", "b====", "bA===",
                                  "b" + "A" * (MAX_PAYLOAD - 1)],
                         ids=["unpadded-3", "unpadded-7", "space", "newline", "punctuation", "padding-only",
                              "one-char", "huge-unpadded"])
def test_garbled_base64_closes_only_its_session(server, bystander, body):
    sid = polling_handshake(server)
    response = post(server.url(sid=sid), body)
    assert response.status_code == 400, (response.status_code, response.text[:100],
                                         get(server.url(sid=sid)).text[:100])
    assert_session_gone(server, sid)
    assert_unaffected(server, bystander)


def test_huge_valid_base64_round_trips(server):
    poller = Poller(server)
    data = random.Random(3).randbytes((MAX_PAYLOAD - 1) // 4 * 3)
    body = "b" + base64.b64encode(data).decode()
    assert len(body) <= MAX_PAYLOAD
    poller.post(body)
    assert get(server.url(sid=poller.sid), timeout=10).text == body


def test_ten_kilobyte_sid(server, bystander):
    sid = "A" * 10240
    assert_error(get(server.url(sid=sid)), 400, 1, "Session ID unknown")
    assert_error(post(server.url(sid=sid), "4hello"), 400, 1, "Session ID unknown")
    assert_json_refusal(ws_refusal(server.url("websocket", sid=sid, ws=True)), 400, 1, "Session ID unknown")
    assert_error(get(server.url(sid="é%00/../" * 500)), 400, 1, "Session ID unknown")
    assert_unaffected(server, bystander)


def test_invalid_utf8_text_frame_fails_the_websocket(server, bystander):
    peer = engine_ws(server)
    sent = time.monotonic()
    peer.send(b"4\xff\xfe\xfd", text=True)
    assert peer.wait_closed(0.15, since=sent, allow=()) < 0.15
    assert peer.close_code == 1007, peer.close_code  # RFC 6455 7.4.1: inconsistent data in a text message
    assert_unaffected(server, bystander)


def test_random_text_frames_close_only_their_session(server, bystander):
    rng = random.Random(4)
    for _ in range(20):
        peer = engine_ws(server)
        junk = "".join(chr(rng.choice([rng.randrange(0x20), rng.randrange(0x80, 0xD800), 0xFFFF, 0x1F600]))
                       for _ in range(rng.randrange(1, 200)))
        sent = time.monotonic()
        peer.send(junk)
        assert peer.wait_closed(0.15, since=sent, allow=()) < 0.15, repr(junk[:20])
    assert_unaffected(server, bystander)


def test_concurrent_hostile_clients(server, bystander):
    """Twenty clients misbehave at once while a well-behaved session keeps talking."""
    def misbehave(seed):
        rng = random.Random(seed)
        sid = polling_handshake(server)
        post(server.url(sid=sid), rng.randbytes(rng.randrange(1, 50000)),
             headers={"Content-Type": "application/octet-stream"})
        peer = engine_ws(server)
        peer.send(b"\xff" + rng.randbytes(20), text=True)
        peer.wait_closed(1)
        return True

    jobs = [pool.submit(misbehave, seed) for seed in range(20)]
    for index in range(10):
        bystander.send(f"4message {index}")
        assert bystander.next_non_ping() == f"4message {index}"
    assert all(job.result(timeout=10) for job in jobs)
    assert_unaffected(server, bystander)

