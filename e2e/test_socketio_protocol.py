"""Socket.IO v5 (over Engine.IO v4) against `socketio-conformance --suite socket.io`, with raw
clients: every rule of the official socket.io-protocol test suite, stricter where the reference
(Node socket.io 4) is, over WebSocket and long-polling, plus malformed packets that must close
only their own connection.

Reference configuration: path /socket.io/, namespaces `/` and `/custom`; each emits `auth` with
the CONNECT payload, echoes `message` as `message-back`, and acks `message-with-ack` with its own
arguments. pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms.
"""
import concurrent.futures
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from socketio_conformance import (
    RS, Peer, Poller, assert_error, assert_open_packet, assert_ping_gap, assert_session_gone, engine_ws, get, http,
    polling_handshake, post, socketio_server)

assert socketio_server  # the fixture, imported for pytest

pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
def server(socketio_server):
    yield socketio_server
    socketio_server.assert_alive()


def prefix(namespace):
    return "" if namespace == "/" else namespace + ","


def join(peer, namespace="/", auth=None, comma=True):
    """Sends CONNECT and checks the reply `40<nsp>,{"sid":...}` then `42<nsp>,["auth",auth]`."""
    head = prefix(namespace) if comma or auth is not None else ("" if namespace == "/" else namespace)
    peer.send("40" + head + ("" if auth is None else compact(auth)))
    reply = peer.next_non_ping()
    assert reply.startswith("40" + prefix(namespace)), reply
    body = json.loads(reply[2 + len(prefix(namespace)):])
    assert list(body) == ["sid"] and isinstance(body["sid"], str) and body["sid"], reply
    assert reply == "40" + prefix(namespace) + compact(body)
    assert peer.next_non_ping() == "42" + prefix(namespace) + compact(["auth", {} if auth is None else auth])
    return body["sid"]


def connected(server, namespace="/", auth=None):
    peer = engine_ws(server, auto_pong=True)
    peer.socket_sid = join(peer, namespace, auth)
    return peer


def assert_echoes(peer, namespace="/"):
    peer.send("42" + prefix(namespace) + '["message","still here"]')
    assert peer.next_non_ping() == "42" + prefix(namespace) + '["message-back","still here"]'


@pytest.fixture
def bystander(server):
    """A connected client that must not notice another connection's malformed packets."""
    peer = connected(server)
    yield peer
    peer.close()


def assert_unaffected(server, bystander):
    server.assert_alive()
    assert_echoes(bystander)
    fresh = connected(server)
    assert_echoes(fresh)
    fresh.close()


def assert_closes_at_once(peer, *frames, within=0.15):
    sent = time.monotonic()
    for frame in frames:
        try:
            peer.send(frame)
        except ConnectionClosed:
            break
    elapsed = peer.wait_closed(within, since=sent)
    assert elapsed < within


# --- the Engine.IO part, at /socket.io/ ---------------------------------------------------------

def test_polling_handshake_is_only_the_open_packet(server):
    response = get(server.url())
    assert response.status_code == 200
    assert_open_packet(response.text, ["websocket"])  # json.loads rejects anything appended
    assert RS not in response.text


@pytest.mark.parametrize("query, code, message", [
    ({"eio": None}, 5, "Unsupported protocol version"),
    ({"eio": "abc"}, 5, "Unsupported protocol version"),
    ({"transport": None}, 0, "Transport unknown"),
    ({"transport": "abc"}, 0, "Transport unknown"),
    ({"sid": "no-such-session"}, 1, "Session ID unknown"),
], ids=["no-EIO", "EIO-abc", "no-transport", "transport-abc", "sid"])
def test_handshake_errors(server, query, code, message):
    assert_error(get(server.url(**query)), 400, code, message)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_handshake_must_be_a_get(server, method):
    with http() as session:
        assert_error(session.request(method, server.url(), data=b"", timeout=5), 400, 2, "Bad handshake method")


@pytest.mark.parametrize("query, code", [({"eio": None}, 5), ({"eio": "abc"}, 5), ({"transport": None}, 0),
                                         ({"transport": "abc"}, 0)],
                         ids=["no-EIO", "EIO-abc", "no-transport", "transport-abc"])
def test_websocket_handshake_errors(server, query, code):
    query.setdefault("transport", "websocket")
    with pytest.raises(InvalidStatus) as refused:
        Peer(server.url(ws=True, **query))
    assert refused.value.response.status_code == 400
    assert json.loads(bytes(refused.value.response.body))["code"] == code


def test_websocket_handshake(server):
    peer = engine_ws(server)  # the first frame is `0{...}`, upgrades []
    assert peer.next(1) == "2"  # and no Socket.IO packet before the first ping
    peer.close()


def test_polling_ping_pong_without_connect_then_connect_timeout(server):
    """Pings answered with no CONNECT: the connect timeout (1000 ms) does not cut them short, and
    then it closes the session, flushing the pending poll with `1`. Each ping comes 300 ms after
    the previous pong, so how many fit before the timeout depends on how fast this client
    answers: two at least, three when the machine is quick."""
    poller = Poller(server)
    handshake = last = time.monotonic()
    pings = 0
    while True:
        response = get(server.url(sid=poller.sid))
        assert response.status_code == 200
        packets = response.text.split("\x1e")
        if packets[0] != "2":
            break
        assert_ping_gap(last)
        pings += 1
        if "1" in packets[1:]:  # the close, queued right behind this ping
            break
        assert post(server.url(sid=poller.sid), "3").text == "ok"
        last = time.monotonic()
    assert packets[-1] == "1" and pings >= 2, (pings, response.text)
    assert 0.95 < time.monotonic() - handshake < 1.3
    assert_session_gone(server, poller.sid)


def test_polling_ping_timeout(server):
    sid = polling_handshake(server)
    time.sleep(0.6)
    assert_session_gone(server, sid)


def test_websocket_ping_pong_without_connect(server):
    peer = engine_ws(server)
    try:
        last = peer.opened_at
        for _ in range(3):
            assert peer.next(1) == "2"
            assert_ping_gap(last)
            peer.send("3")
            last = time.monotonic()
    finally:
        peer.close()


def test_websocket_ping_timeout(server):
    peer = engine_ws(server)
    assert peer.next(1) == "2"
    assert 0.45 < peer.wait_closed(1.5, since=peer.opened_at, allow=()) < 0.7


def test_polling_client_close(server):
    sid = polling_handshake(server)
    pending = pool.submit(get, server.url(sid=sid))
    time.sleep(0.05)
    assert post(server.url(sid=sid), "1").text == "ok"
    assert pending.result().text == "6"
    assert_session_gone(server, sid)


def test_websocket_client_close(server):
    peer = engine_ws(server)
    assert_closes_at_once(peer, "1")


def test_upgrade(server):
    sid = polling_handshake(server)
    peer = engine_ws(server, sid=sid)
    try:
        peer.send("2probe")
        assert peer.next() == "3probe"
        peer.send("5")
        assert_error(get(server.url(sid=sid)), 400, 3, "Bad request")
        second = Peer(server.url("websocket", sid=sid, ws=True))  # accepted, then closed
        assert second.wait_closed(0.15, since=second.opened_at, allow=()) < 0.15
        join(peer)
        assert_echoes(peer)
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
    finally:
        peer.close()


# --- connect -----------------------------------------------------------------------------------

def test_connect_to_the_main_namespace(server):
    peer = engine_ws(server, auto_pong=True)
    try:
        sid = join(peer)  # `40` → `40{"sid":...}`, then exactly `42["auth",{}]`
        assert sid != peer.sid, "the socket id must not be the Engine.IO session id"
        assert_echoes(peer)
    finally:
        peer.close()


def test_connect_to_the_main_namespace_with_a_payload(server):
    peer = engine_ws(server, auto_pong=True)
    try:
        join(peer, auth={"token": "123"})
        join(peer, "/custom", auth={"nested": {"b": [1, "é", None], "a": True}})  # key order kept
    finally:
        peer.close()


@pytest.mark.parametrize("comma", [True, False], ids=["with-comma", "without-comma"])
def test_connect_to_a_custom_namespace(server, comma):
    peer = engine_ws(server, auto_pong=True)
    try:
        custom = join(peer, "/custom", comma=comma)
        assert custom != peer.sid
        assert_echoes(peer, "/custom")
        main = join(peer)
        assert main != custom
        assert_echoes(peer)
    finally:
        peer.close()


def test_connect_to_a_custom_namespace_with_a_payload(server):
    peer = engine_ws(server, auto_pong=True)
    try:
        join(peer, "/custom", auth={"token": "abc"})
    finally:
        peer.close()


@pytest.mark.parametrize("packet", ["40/random", "40/random,", '40/random,{"token":"x"}'])
def test_unknown_namespace_is_refused_and_the_connection_stays(server, packet):
    peer = engine_ws(server, auto_pong=True)
    try:
        peer.send(packet)
        assert peer.next_non_ping() == '44/random,{"message":"Invalid namespace"}'
        peer.assert_silent(0.1)
        join(peer)
        assert_echoes(peer)
    finally:
        peer.close()


def test_invalid_handshake_closes_at_once(server, bystander):
    peer = engine_ws(server)
    assert_closes_at_once(peer, "4abc")
    assert_unaffected(server, bystander)


def test_no_connect_within_the_connect_timeout_closes(server):
    peer = engine_ws(server, auto_pong=True)  # pongs, so the ping timeout does not do it
    elapsed = peer.wait_closed(2, since=peer.opened_at)
    assert 0.95 < elapsed < 1.5, elapsed


def test_disconnect_from_the_main_namespace_keeps_the_engine(server):
    peer = connected(server)
    try:
        peer.send("41")
        assert peer.next(1) == "2"  # nothing is sent for `41`: the next frame is a ping (answered)
        # Still open well past the connect timeout: it applies only to the first CONNECT.
        peer.assert_silent(1.2)
        join(peer)
        assert_echoes(peer)
    finally:
        peer.close()


def test_disconnect_from_a_custom_namespace_keeps_the_main_one(server):
    peer = connected(server)
    try:
        join(peer, "/custom", comma=False)
        peer.send("41/custom")
        peer.send('42["message","message to main namespace"]')
        assert peer.next_non_ping() == '42["message-back","message to main namespace"]'
        peer.assert_silent(0.1)  # nothing was sent for `41/custom`
        assert_echoes(peer)
    finally:
        peer.close()


@pytest.mark.parametrize("frames", [
    ['42/custom,["message","not joined"]'],
    ['42/random,["message","no such namespace"]'],
    ["41/random,"],
    ["40/custom,", "41/custom,", '42/custom,["message","left"]'],
    ["41", '42["message","left"]'],
], ids=["not-joined", "unknown", "disconnect-unknown", "left-custom", "left-main"])
def test_packets_for_a_namespace_not_joined_are_not_delivered(server, bystander, frames):
    """Ignored (Herald) or the connection closes (Node: "invalid state"); never delivered."""
    peer = engine_ws(server, auto_pong=True)
    join(peer)
    for frame in frames:
        peer.send(frame)
        if frame.startswith("40/custom"):
            assert peer.next_non_ping().startswith("40/custom,")
            assert peer.next_non_ping() == '42/custom,["auth",{}]'
    try:
        peer.assert_silent(0.15)
    except AssertionError:
        assert peer.closed.is_set(), "a packet for a namespace not joined was answered"
    peer.close()
    assert_unaffected(server, bystander)


# --- events and acks ---------------------------------------------------------------------------

@pytest.mark.parametrize("arguments", [
    '1,"2",{"3":[true]}',
    '"héllo ☃ 😀",null,1.5,-2,0,false,[],{}',
    '{"z":1,"a":{"y":[1,{"b":2,"a":3}],"x":null}}',
    '"quote \\" backslash \\\\ newline \\n"',
    '{"_placeholder":true,"num":0}',  # a plain object in a plain EVENT, not an attachment
    '',
], ids=["suite", "scalars", "key-order", "escapes", "placeholder-lookalike", "no-arguments"])
def test_event(server, arguments):
    peer = connected(server)
    try:
        comma = "," if arguments else ""
        peer.send(f'42["message"{comma}{arguments}]')
        assert peer.next_non_ping() == f'42["message-back"{comma}{arguments}]'
    finally:
        peer.close()


def test_event_in_a_custom_namespace(server):
    peer = connected(server, "/custom")
    try:
        peer.send('42/custom,["message",1,"2",{"3":[true]}]')
        assert peer.next_non_ping() == '42/custom,["message-back",1,"2",{"3":[true]}]'
        peer.send('42/custom,7["message-with-ack","x"]')
        assert peer.next_non_ping() == '43/custom,7["x"]'
    finally:
        peer.close()


def test_large_event(server):
    peer = connected(server)
    try:
        text = "x" * 900_000
        peer.send(f'42["message","{text}"]')
        assert peer.next_non_ping(5) == f'42["message-back","{text}"]'
    finally:
        peer.close()


def test_binary_attachments(server):
    peer = connected(server)
    try:
        peer.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
        peer.send(bytes([1, 2, 3]))
        peer.send(bytes([4, 5, 6]))
        assert peer.next_non_ping() == (
            '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
        first, second = peer.next_non_ping(), peer.next_non_ping()
        assert isinstance(first, bytes) and first == bytes([1, 2, 3]), first  # raw frames, no `b` base64
        assert isinstance(second, bytes) and second == bytes([4, 5, 6]), second
        # Attachments nested anywhere, and in a custom namespace.
        join(peer, "/custom")
        peer.send('451-/custom,["message",{"a":[{"_placeholder":true,"num":0}]},"text"]')
        peer.send(bytes(range(256)))
        assert peer.next_non_ping() == '451-/custom,["message-back",{"a":[{"_placeholder":true,"num":0}]},"text"]'
        assert peer.next_non_ping() == bytes(range(256))
    finally:
        peer.close()


def test_ack(server):
    peer = connected(server)
    try:
        peer.send('42456["message-with-ack",1,"2",{"3":[false]}]')
        assert peer.next_non_ping() == '43456[1,"2",{"3":[false]}]'
        peer.send('420["message-with-ack"]')
        assert peer.next_non_ping() == '430[]'
    finally:
        peer.close()


def test_binary_ack(server):
    peer = connected(server)
    try:
        peer.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
        peer.send(bytes([1, 2, 3]))
        peer.send(bytes([4, 5, 6]))
        assert peer.next_non_ping() == '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
        assert peer.next_non_ping() == bytes([1, 2, 3])
        assert peer.next_non_ping() == bytes([4, 5, 6])
    finally:
        peer.close()


def test_ack_for_an_unknown_id_is_ignored(server):
    peer = connected(server)
    try:
        peer.send('43999[1]')
        peer.assert_silent(0.1)
        assert_echoes(peer)
    finally:
        peer.close()


# --- malformed packets: each closes its connection at once, and only that one -----------------

MALFORMED = {
    "unknown-type-a": ["4abc"],
    "unknown-type-7": ["47"],
    "unknown-type-9": ["49"],
    "no-type": ["4"],
    "event-object": ["42{}"],
    "event-empty-array": ["42[]"],
    "event-string": ['42"message"'],
    "event-name-object": ['42[{"a":1}]'],
    "event-name-true": ["42[true]"],
    "event-name-null": ["42[null]"],
    "invalid-ack-id": ['42abc["message-with-ack",1,"2",{"3":[false]}]'],
    "fractional-ack-id": ['421.5["message"]'],
    "negative-ack-id": ['42-1["message"]'],
    "truncated-json": ['42["message",'],
    "reserved-connect": ['42["connect"]'],
    "reserved-connect_error": ['42["connect_error"]'],
    "reserved-disconnect": ['42["disconnect"]'],
    "reserved-disconnecting": ['42["disconnecting"]'],
    "reserved-newListener": ['42["newListener"]'],
    "reserved-removeListener": ['42["removeListener"]'],
    "ack-without-data": ["43"],
    "ack-garbage": ["43abc"],
    "connect-error-from-client": ['44{"message":"x"}'],
    "connect-array": ["40[1]"],
    "connect-string": ['40"x"'],
    "connect-garbage": ["40abc"],
    "namespace-before-type": ['4/custom,2["message"]'],
    "attachments-garbage": ['45x-["message",{"_placeholder":true,"num":0}]'],
    "attachments-missing": ['45-["message"]'],
    "attachments-no-dash": ['451["message",{"_placeholder":true,"num":0}]'],
    "attachments-absurd": ['4599999999999999999999-["message"]'],
    "placeholder-out-of-range": ['451-["message",{"_placeholder":true,"num":5}]', b"\x01"],
    "placeholder-negative": ['451-["message",{"_placeholder":true,"num":-1}]', b"\x01"],
    "placeholder-string-num": ['451-["message",{"_placeholder":true,"num":"0"}]', b"\x01"],
    "binary-without-packet": [b"\x01\x02\x03"],
    "text-while-reconstructing": ['451-["message",{"_placeholder":true,"num":0}]', '42["message",1]'],
    "deep-unclosed-json": ["42" + "[" * 100_000],
    "deep-unclosed-objects": ['42["message",' + '{"a":' * 50_000],
}


@pytest.mark.parametrize("frames", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_packet_closes_only_its_connection(server, bystander, frames):
    peer = connected(server)
    assert_closes_at_once(peer, *frames)
    assert_unaffected(server, bystander)


def test_deeply_nested_valid_json_does_not_crash(server, bystander):
    """Either echoed exactly or refused by closing the connection; never a crash."""
    peer = connected(server)
    nested = "[" * 5000 + "]" * 5000
    peer.send(f'42["message",{nested}]')
    try:
        reply = peer.next_non_ping(2)
    except AssertionError:
        assert peer.closed.is_set()
    else:
        assert reply == f'42["message-back",{nested}]'
        peer.close()
    assert_unaffected(server, bystander)


def test_many_malformed_clients_at_once(server, bystander):
    def misbehave(frames):
        peer = connected(server)
        for frame in frames:
            try:
                peer.send(frame)
            except ConnectionClosed:
                break
        peer.wait_closed(1)
        return True

    jobs = [pool.submit(misbehave, frames) for frames in list(MALFORMED.values())[:16]]
    for index in range(10):
        bystander.send(f'42["message",{index}]')
        assert bystander.next_non_ping() == f'42["message-back",{index}]'
    assert all(job.result(timeout=10) for job in jobs)
    assert_unaffected(server, bystander)


# --- over long-polling -------------------------------------------------------------------------

def polling_connected(server, namespace="/", auth=None):
    poller = Poller(server)
    poller.post("40" + prefix(namespace) + ("" if auth is None else compact(auth)))
    reply, auth_event = poller.collect(2)
    assert reply.startswith("40" + prefix(namespace)), reply
    body = json.loads(reply[2 + len(prefix(namespace)):])
    assert list(body) == ["sid"] and body["sid"] != poller.sid
    assert auth_event == "42" + prefix(namespace) + compact(["auth", {} if auth is None else auth])
    return poller


def test_polling_connect_event_and_ack(server):
    poller = polling_connected(server, auth={"token": "123"})
    poller.post('42["message",1,"2",{"3":[true]}]\x1e4212["message-with-ack","x",{"y":[null]}]')
    assert poller.collect(2) == ['42["message-back",1,"2",{"3":[true]}]', '4312["x",{"y":[null]}]']


def test_polling_custom_namespace(server):
    poller = polling_connected(server, "/custom", auth={"token": "abc"})
    poller.post('42/custom,["message","hi"]')
    assert poller.collect(1) == ['42/custom,["message-back","hi"]']


def test_polling_unknown_namespace(server):
    poller = Poller(server)
    poller.post("40/random")
    assert poller.collect(1) == ['44/random,{"message":"Invalid namespace"}']


def test_polling_binary_attachments(server):
    poller = polling_connected(server)
    poller.post('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]\x1ebAQID\x1ebBAUG')
    assert poller.collect(3) == [
        '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', "bAQID", "bBAUG"]
    poller.post('451-789["message-with-ack",{"_placeholder":true,"num":0}]\x1ebAAEC/w==')
    assert poller.collect(2) == ['461-789[{"_placeholder":true,"num":0}]', "bAAEC/w=="]


def test_polling_attachments_in_separate_posts(server):
    poller = polling_connected(server)
    poller.post('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    poller.post("bAQID")
    poller.post("bBAUG")
    assert poller.collect(3) == [
        '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', "bAQID", "bBAUG"]


@pytest.mark.parametrize("body", [
    "4abc", "42{}", '42["connect"]', "bAQID", '451-["message",{"_placeholder":true,"num":3}]\x1ebAQID',
], ids=["unknown-type", "event-object", "reserved", "binary-without-packet", "placeholder-out-of-range"])
def test_polling_malformed_packet_closes_the_session(server, bystander, body):
    poller = polling_connected(server)
    post(server.url(sid=poller.sid), body)
    assert_session_gone(server, poller.sid)
    assert_unaffected(server, bystander)


def test_upgrade_of_a_connected_session(server):
    poller = polling_connected(server)
    peer = engine_ws(server, sid=poller.sid, auto_pong=True)
    try:
        peer.send("2probe")
        assert peer.next() == "3probe"
        peer.send("5")
        assert_echoes(peer)
        peer.send('451-["message",{"_placeholder":true,"num":0}]')
        peer.send(b"\x09")
        assert peer.next_non_ping() == '451-["message-back",{"_placeholder":true,"num":0}]'
        assert peer.next_non_ping() == b"\x09"
    finally:
        peer.close()
