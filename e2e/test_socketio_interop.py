"""Herald's Socket.IO server (/socket.io/, EIO=4) against the real Python client, python-socketio
5.18.1 (python-engineio 4.15.1): transports and the upgrade, namespaces, auth, acks both ways,
binary, rooms, server-initiated emits, and notifications resumed by offset, across a restart too.

`/test` is Flask-SocketIO's example app; `/notifications` is the user's notification stream and
channels. The /test background tick runs every second here, so /test readers skip its events.
"""
import json
import logging
import os
import queue
import time

import pytest
import requests
import socketio

from conftest import running_herald

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SOCKETIO_CLIENT = os.environ.get("HERALD_SOCKETIO_CLIENT") or os.path.join(REPO, ".socketio-client", "socket.io.min.js")
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"]}
TICK = "Server generated event"


def socketio_settings(**extra):
    assert os.path.isfile(SOCKETIO_CLIENT), \
        f"no Socket.IO client at {SOCKETIO_CLIENT}: run scripts/install-test-deps (or scripts/fetch-socketio-client)"
    return dict(HERALD_SOCKETIO_CLIENT=SOCKETIO_CLIENT, HERALD_DEMO_TICK_SECONDS="1",
                HERALD_RETENTION_COUNT="100000", **extra)


@pytest.fixture(scope="module")
def server():
    """One server for the module; each test makes its own users and rooms."""
    with running_herald("herald-sio-", **socketio_settings()) as herald:
        yield herald


@pytest.fixture
def own_server():
    """A server of the test's own, for restarts."""
    with running_herald("herald-sio-", **socketio_settings()) as herald:
        yield herald


_users = iter(range(1, 1_000_000))


def new_user(herald, prefix="user"):
    name = f"{prefix}{next(_users)}"
    herald.add_user(name)
    return name, herald.token(name)


class Inbox:
    """What a client received, in order, read with a deadline."""

    def __init__(self, skip=lambda item: False):
        self.items = queue.Queue()
        self.skip = skip

    def put(self, item):
        self.items.put(item)

    def next(self, timeout=5.0, what="an event"):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                item = self.items.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(f"no {what} within {timeout} s") from None
            if not self.skip(item):
                return item

    def take(self, count, timeout=5.0, what="events"):
        return [self.next(timeout, what=f"{what} #{i + 1} of {count}") for i in range(count)]

    def drain(self, seconds):
        """Everything (but skipped items) that arrives within `seconds`."""
        items, deadline = [], time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                item = self.items.get(timeout=remaining)
            except queue.Empty:
                break
            if not self.skip(item):
                items.append(item)
        return items

    def nothing_for(self, seconds):
        """Asserts that nothing (but skipped items) arrives for `seconds`."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                item = self.items.get(timeout=remaining)
            except queue.Empty:
                return
            assert self.skip(item), f"unexpected {item!r}"


def is_tick(item):
    return isinstance(item, dict) and item.get("data") == TICK


class Peer:
    """A python-socketio Client with inboxes for /test (my_response, ticks skipped) and for
    /notifications (every event as (name, args), `status` lines apart)."""

    def __init__(self, **options):
        self.log = ListHandler()
        logger = logging.getLogger(f"herald-e2e-eio-{id(self)}")
        logger.setLevel(logging.INFO)
        logger.addHandler(self.log)
        logger.propagate = False
        self.client = socketio.Client(reconnection=False, engineio_logger=logger, **options)
        self.test = Inbox(skip=is_tick)
        self.ticks = Inbox()
        self.notes = Inbox()
        self.status = Inbox()
        self.errors = {}
        self.disconnects = Inbox()
        self.ack_with = None  # what the my_response handler returns (the ack's argument)

        def my_response(data):
            (self.ticks if is_tick(data) else self.test).put(data)
            return self.ack_with

        def notification(event, *args):
            (self.status if event == "status" else self.notes).put((event, args))

        self.client.on("my_response", my_response, namespace="/test")
        self.client.on("*", notification, namespace="/notifications")
        for namespace in ("/test", "/notifications", "/nowhere"):
            self.client.on("connect_error", lambda data, ns=namespace: self.errors.__setitem__(ns, data), namespace=namespace)
            self.client.on("disconnect", lambda *reason, ns=namespace: self.disconnects.put((ns, reason)), namespace=namespace)

    def connect(self, herald, namespaces=("/test",), transports=None, **options):
        self.client.connect(herald.base, namespaces=list(namespaces), transports=transports, wait_timeout=5, **options)
        return self

    def emit(self, event, *args, namespace="/test"):
        self.client.emit(event, args[0] if len(args) == 1 else tuple(args), namespace=namespace)

    def call(self, event, data, namespace="/notifications"):
        return self.client.call(event, data, namespace=namespace, timeout=5)

    def sid(self, namespace="/test"):
        return self.client.get_sid(namespace)


class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def peers():
    made = []

    def new(**options):
        peer = Peer(**options)
        made.append(peer)
        return peer

    yield new
    for peer in made:
        peer.client.disconnect()


def notification_events(peer, count, timeout=5.0):
    """The next `count` notifications as (name, data, meta, offset)."""
    received = peer.notes.take(count, timeout, what="notifications")
    for name, args in received:
        assert len(args) == 3, f"{name}: expected (data, meta, offset), got {args!r}"
    return [(name, *args) for name, args in received]


def send_message(herald, sender_token, to, body):
    response = requests.post(herald.base + "/api/messages", json={"to": to, "body": body},
                             headers={"Authorization": f"Bearer {sender_token}"}, timeout=5)
    assert response.status_code == 201, response.text


def log_in(herald, name, password="correct horse"):
    """Signs in through the web form, as a browser would; returns the session's cookies."""
    session = requests.Session()
    page = session.get(herald.base + "/login", timeout=5).text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = session.post(herald.base + "/login", data={"csrf_token": csrf, "username": name, "password": password},
                            timeout=5)
    assert response.status_code == 200 and "herald_session" in session.cookies, response.text[:300]
    return session.cookies


# --- Transports --------------------------------------------------------------------------------

def test_polling_only(server, peers):
    peer = peers().connect(server, transports=["polling"])
    assert peer.client.transport() == "polling"
    assert peer.test.next() == {"data": "Connected", "count": 0}
    peer.emit("my_event", {"data": "over polling"})
    assert peer.test.next() == {"data": "over polling", "count": 1}
    assert peer.client.transport() == "polling"
    assert not any("WebSocket" in line for line in peer.log.lines), peer.log.lines


def test_websocket_only(server, peers):
    peer = peers().connect(server, transports=["websocket"])
    assert peer.client.transport() == "websocket"
    assert any(line.startswith("WebSocket connection accepted") for line in peer.log.lines), peer.log.lines
    assert peer.test.next() == {"data": "Connected", "count": 0}
    peer.emit("my_event", {"data": "over websocket"})
    assert peer.test.next() == {"data": "over websocket", "count": 1}


def test_polling_upgrades_to_websocket(server, peers):
    peer = peers().connect(server)  # the default: polling first, then the upgrade
    assert peer.client.transport() == "websocket"
    assert peer.client.eio.upgrades == ["websocket"]
    assert any(line.startswith("Polling connection accepted") for line in peer.log.lines), peer.log.lines
    assert "WebSocket upgrade was successful" in peer.log.lines, peer.log.lines
    assert peer.test.next() == {"data": "Connected", "count": 0}
    peer.emit("my_event", {"data": "after the upgrade"})
    assert peer.test.next() == {"data": "after the upgrade", "count": 1}
    assert peer.client.transport() == "websocket"


def test_a_polling_clients_disconnect_returns_at_once(server, peers):
    _, token = new_user(server)
    peer = peers().connect(server, namespaces=["/test", "/notifications"], transports=["polling"], auth={"token": token})
    assert peer.test.next()["data"] == "Connected"
    time.sleep(0.3)  # let the client's long-poll GET be held by the server
    started = time.monotonic()
    peer.client.disconnect()
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"disconnect() took {elapsed:.2f} s: the held long-poll was not released"
    assert not peer.client.connected


# --- Namespaces --------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
def test_two_namespaces_share_one_connection(server, peers, transport):
    name, token = new_user(server)
    peer = peers().connect(server, namespaces=["/test", "/notifications"], transports=TRANSPORTS[transport],
                           auth={"token": token})
    assert sorted(peer.client.namespaces) == ["/notifications", "/test"]
    assert peer.sid("/test") and peer.sid("/notifications") and peer.sid("/test") != peer.sid("/notifications")
    assert peer.test.next() == {"data": "Connected", "count": 0}

    seq = server.publish(user=name, name="build", data={"status": "green"})["seq"]
    peer.emit("my_event", {"data": "both"})
    assert peer.test.next() == {"data": "both", "count": 1}
    [(event, data, meta, offset)] = notification_events(peer, 1)
    assert (event, data, meta["stream"], meta["seq"], offset) == ("build", {"status": "green"}, "user", seq, str(seq))
    assert len(peer.client.eio.sid) > 0 and peer.client.transport() == transport


def test_an_unknown_namespace_is_refused(server, peers):
    peer = peers()
    with pytest.raises(socketio.exceptions.ConnectionError):
        peer.connect(server, namespaces=["/nowhere"])
    assert peer.errors["/nowhere"]["message"] == "Invalid namespace", peer.errors
    # The same connection attempt with a good namespace beside the bad one: the good one works.
    other = peers()
    with pytest.raises(socketio.exceptions.ConnectionError):
        other.connect(server, namespaces=["/test", "/nowhere"])
    assert "/nowhere" in other.errors and "/nowhere" not in other.client.namespaces


# --- Auth --------------------------------------------------------------------------------------

def assert_it_is(server, peer, name):
    """The connection is `name`'s: a notification published to that user arrives."""
    seq = server.publish(user=name, name="whoami", data={"user": name})["seq"]
    [(event, data, meta, offset)] = notification_events(peer, 1)
    assert (event, data, meta["seq"]) == ("whoami", {"user": name}, seq)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_auth_by_token_in_the_auth_payload(server, peers, transport):
    name, token = new_user(server)
    new_user(server)  # someone else, whose notifications must not show up
    peer = peers().connect(server, namespaces=["/notifications"], transports=TRANSPORTS[transport], auth={"token": token})
    assert_it_is(server, peer, name)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_auth_by_bearer_header(server, peers, transport):
    name, token = new_user(server)
    peer = peers().connect(server, namespaces=["/notifications"], transports=TRANSPORTS[transport],
                           headers={"Authorization": f"Bearer {token}"})
    assert_it_is(server, peer, name)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_auth_by_the_session_cookie_of_the_web_login(server, peers, transport):
    name, _ = new_user(server)
    cookies = log_in(server, name)
    cookie = "; ".join(f"{key}={value}" for key, value in cookies.items())
    peer = peers().connect(server, namespaces=["/notifications"], transports=TRANSPORTS[transport],
                           headers={"Cookie": cookie})
    assert_it_is(server, peer, name)


@pytest.mark.parametrize("credentials", ["none", "bad token", "bad bearer header"])
def test_refused_without_valid_credentials(server, peers, credentials):
    options = {"none": {}, "bad token": {"auth": {"token": "hrd_" + "x" * 43}},
               "bad bearer header": {"headers": {"Authorization": "Bearer hrd_nonsense"}}}[credentials]
    peer = peers()
    with pytest.raises(socketio.exceptions.ConnectionError):
        peer.connect(server, namespaces=["/notifications"], **options)
    error = peer.errors.get("/notifications")
    assert error is not None, "the client's connect_error handler got nothing"
    assert isinstance(error.get("message"), str) and error["message"], error
    assert error.get("data") == {"code": "unauthorized"}, error
    assert "/notifications" not in peer.client.namespaces


def test_a_bad_offset_is_refused_with_its_code(server, peers):
    _, token = new_user(server)
    peer = peers()
    with pytest.raises(socketio.exceptions.ConnectionError):
        peer.connect(server, namespaces=["/notifications"], auth={"token": token, "offset": "not-a-cursor"})
    assert peer.errors["/notifications"]["data"] == {"code": "invalid_cursor"}, peer.errors


# --- Arguments and acks ------------------------------------------------------------------------

def test_several_arguments_both_ways(server, peers):
    name, token = new_user(server)
    peer = peers().connect(server, namespaces=["/test", "/notifications"], auth={"token": token})
    assert peer.test.next()["data"] == "Connected"
    # Client to server: extra arguments after the first are accepted and the first is used.
    peer.emit("my_event", {"data": ["a", 1, None, {"deep": [True]}]}, "second", 3)
    assert peer.test.next() == {"data": ["a", 1, None, {"deep": [True]}], "count": 1}
    # Server to client: notifications carry three arguments.
    seq = server.publish(user=name, name="deploy", data=[1, "two", {"three": 3}])["seq"]
    [(event, data, meta, offset)] = notification_events(peer, 1)
    assert (event, data, meta["stream"], meta["seq"], offset) == ("deploy", [1, "two", {"three": 3}], "user", seq, str(seq))
    assert isinstance(meta["timestamp"], float) and abs(meta["timestamp"] - time.time()) < 60


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_acks_from_the_server_join_and_publish(server, peers, transport):
    name, token = new_user(server)
    channel = f"acks-{transport}-{name}"
    peer = peers().connect(server, namespaces=["/notifications"], transports=TRANSPORTS[transport], auth={"token": token})
    assert peer.call("join", {"channel": channel}) == {"channel": channel, "seq": 0}
    assert peer.status.next() == ("status", ({"msg": f"{name} has entered the room."},))
    first = peer.call("publish", {"channel": channel, "name": "news", "data": {"n": 1}})
    second = peer.call("publish", {"channel": channel, "name": "news", "data": {"n": 2}})
    assert set(first) == {"seq"} and second == {"seq": first["seq"] + 1}
    received = notification_events(peer, 2)
    assert [(e, d, m["stream"], m["seq"], o) for e, d, m, o in received] == [
        ("news", {"n": 1}, f"channel:{channel}", first["seq"], f"0;{channel}={first['seq']}"),
        ("news", {"n": 2}, f"channel:{channel}", second["seq"], f"0;{channel}={second['seq']}"),
    ]
    # The history of a channel joined later, from `since`; and a refusal is an ack too.
    other = peers().connect(server, namespaces=["/notifications"], transports=TRANSPORTS[transport],
                            auth={"token": token})
    assert other.call("join", {"channel": channel, "since": first["seq"]}) == {"channel": channel, "seq": second["seq"]}
    [(event, data, meta, _)] = notification_events(other, 1)
    assert (event, data, meta["seq"]) == ("news", {"n": 2}, second["seq"])
    refused = other.call("join", {"channel": "no spaces allowed"})
    assert set(refused) == {"error"} and refused["error"]["code"] and refused["error"]["message"], refused
    assert peer.call("leave", {"channel": channel}) == {"channel": channel}
    assert other.status.next() == ("status", ({"msg": f"{name} has entered the room."},))
    assert other.status.next() == ("status", ({"msg": f"{name} has left the room."},))
    # A text line: event `message` to the room, and the web page of the room shows it.
    sent = other.call("text", {"channel": channel, "text": "hello <room>"})
    assert sent == {"seq": second["seq"] + 1}
    [(event, data, meta, _)] = notification_events(other, 1)
    assert event == "message" and meta["seq"] == sent["seq"]
    assert {k: data[k] for k in ("channel", "from", "text")} == {"channel": channel, "from": name, "text": "hello <room>"}
    peer.notes.nothing_for(0.3)  # it left the channel


def test_published_by_socketio_is_seen_by_sse_readers(server, peers):
    name, token = new_user(server)
    channel = f"sse-{name}"
    peer = peers().connect(server, namespaces=["/notifications"], auth={"token": token})
    assert peer.call("join", {"channel": channel})["seq"] == 0
    seq = peer.call("publish", {"channel": channel, "name": "news", "data": "via socket.io"})["seq"]
    response = requests.get(server.base + f"/api/events?channel={channel}&since=0;{channel}=0",
                            headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=5)
    assert response.status_code == 200
    lines = []
    for line in response.iter_lines(decode_unicode=True):
        lines.append(line)
        if line.startswith("data:") and "via socket.io" in line:
            break
    response.close()
    assert "event: news" in lines and f"id: 0;{channel}={seq}" in lines, lines


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_acks_from_the_client_disconnect_request(server, peers, transport):
    _, token = new_user(server)
    peer = peers().connect(server, namespaces=["/test", "/notifications"], transports=TRANSPORTS[transport],
                           auth={"token": token})
    assert peer.test.next()["data"] == "Connected"
    peer.ack_with = "bye"  # the handler's return value answers the server's ack request
    peer.emit("disconnect_request")
    assert peer.test.next() == {"data": "Disconnected!", "count": 1}
    acked = time.monotonic()
    namespace, _ = peer.disconnects.next(timeout=6, what="disconnect from /test")
    waited = time.monotonic() - acked
    assert namespace == "/test"
    assert waited < 2.0, f"the server disconnected {waited:.1f} s after the ack: it did not see the ack"
    assert "/test" not in peer.client.namespaces
    # The connection and its other namespace stay up.
    assert peer.client.connected and "/notifications" in peer.client.namespaces
    assert peer.call("join", {"channel": f"still-{transport}"}) == {"channel": f"still-{transport}", "seq": 0}


# --- Binary ------------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
def test_binary_both_ways(server, peers, transport):
    peer = peers().connect(server, transports=TRANSPORTS[transport])
    assert peer.test.next()["data"] == "Connected"
    peer.emit("my_event", {"data": b"\x01\x02\x03"})
    echoed = peer.test.next()
    assert echoed == {"data": b"\x01\x02\x03", "count": 1} and isinstance(echoed["data"], bytes)
    every_byte = bytes(range(256)) * 40
    peer.emit("my_event", {"data": every_byte})
    assert peer.test.next() == {"data": every_byte, "count": 2}
    nested = {"list": [b"\x00", "text", {"inner": b"\xff\xfe"}], "empty": b""}
    peer.emit("my_event", {"data": nested})
    assert peer.test.next() == {"data": nested, "count": 3}
    # Broadcast binary reaches a peer on the other transport as bytes too.
    other = peers().connect(server, transports=TRANSPORTS["websocket" if transport == "polling" else "polling"])
    assert other.test.next()["data"] == "Connected"
    peer.emit("my_broadcast_event", {"data": b"\x00broadcast\xff"})
    for receiver in (peer, other):
        assert receiver.test.next() == {"data": b"\x00broadcast\xff", "count": 4}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_text_that_looks_like_framing_survives(server, peers, transport):
    """The polling payload separator (\\x1e), NUL, U+2028, astral characters and a long string,
    two at a time so that polling batches them in one payload."""
    peer = peers().connect(server, transports=TRANSPORTS[transport])
    assert peer.test.next()["data"] == "Connected"
    count = 0
    for text in ("a\x1eb\x1e", "\x00 \u2028 \"quoted\" \\ ☃ 😀", "4:" + "x" * 30_000):
        peer.emit("my_event", {"data": text})
        peer.emit("my_event", {"data": [text]})
        assert peer.test.take(2) == [{"data": text, "count": count + 1}, {"data": [text], "count": count + 2}]
        count += 2


def max_payload(herald):
    """The maxPayload of an Engine.IO handshake (the open packet of a polling GET)."""
    response = requests.get(herald.base + "/socket.io/?EIO=4&transport=polling", timeout=5)
    assert response.status_code == 200 and response.text.startswith("0"), response.text
    return json.loads(response.text[1:])["maxPayload"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_message_over_max_payload_closes_only_that_connection(server, peers, transport):
    limit = max_payload(server)
    assert limit >= 65536, limit
    framing = len('42/test,["my_event",{"data":""}]')
    peer = peers().connect(server, transports=TRANSPORTS[transport])
    bystander = peers().connect(server, transports=TRANSPORTS[transport])
    for each in (peer, bystander):
        assert each.test.next()["data"] == "Connected"
    fits = "y" * (limit - framing)
    peer.emit("my_event", {"data": fits})
    assert peer.test.next(what="the echo of a message of exactly maxPayload") == {"data": fits, "count": 1}
    peer.emit("my_event", {"data": fits + "y"})
    namespace, _ = peer.disconnects.next(timeout=5, what="a disconnect after a message over maxPayload")
    assert namespace == "/test" and not peer.client.connected
    bystander.emit("my_event", {"data": "still here"})
    assert bystander.test.next() == {"data": "still here", "count": 1}


# --- Rooms and broadcast -----------------------------------------------------------------------

def test_rooms_and_broadcast_with_three_clients(server, peers):
    a, b, c = (peers().connect(server, transports=transports)
               for transports in (["polling"], ["websocket"], None))
    for peer in (a, b, c):
        assert peer.test.next()["data"] == "Connected"
    room = f"room-{a.sid()}"

    a.emit("my_broadcast_event", {"data": "to everyone"})
    for peer in (a, b, c):
        assert peer.test.next() == {"data": "to everyone", "count": 1}

    # `count` is the sender's own event count (a: 1 so far), as in Flask-SocketIO's example.
    for peer, count in ((a, 2), (b, 1)):
        peer.emit("join", {"room": room})
        assert peer.test.next() == {"data": "In rooms: " + ", ".join(sorted([peer.sid(), room])), "count": count}

    c.emit("my_room_event", {"room": room, "data": "members only"})
    for peer in (a, b):
        assert peer.test.next() == {"data": "members only", "count": 1}
    c.test.nothing_for(0.5)

    b.emit("leave", {"room": room})
    assert b.test.next() == {"data": "In rooms: " + b.sid(), "count": 2}
    a.emit("my_room_event", {"room": room, "data": "after b left"})
    assert a.test.next() == {"data": "after b left", "count": 3}

    b.emit("join", {"room": room})
    assert b.test.next()["data"] == "In rooms: " + ", ".join(sorted([b.sid(), room]))
    c.emit("close_room", {"room": room})
    for peer in (a, b):
        assert peer.test.next()["data"] == f"Room {room} is closing."
    c.emit("my_room_event", {"room": room, "data": "nobody is left"})
    a.emit("my_event", {"data": "marker"})
    assert a.test.next()["data"] == "marker"
    for peer in (a, b, c):
        peer.test.nothing_for(0.4)
    a.emit("join", {"room": "another"})
    assert a.test.next()["data"] == "In rooms: " + ", ".join(sorted([a.sid(), "another"]))


# --- Server-initiated emits --------------------------------------------------------------------

def test_the_background_task_emits_to_every_test_socket(server, peers):
    a = peers().connect(server, transports=["polling"])
    b = peers().connect(server, transports=["websocket"])
    first = [a.ticks.next(timeout=3, what="a tick"), b.ticks.next(timeout=3, what="a tick")]
    second = [a.ticks.next(timeout=3, what="a tick"), b.ticks.next(timeout=3, what="a tick")]
    for before, after in zip(first, second):
        assert before["data"] == after["data"] == TICK
        assert after["count"] == before["count"] + 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_published_notification_arrives_once_in_order(server, peers, transport):
    name, token = new_user(server)
    peer = peers().connect(server, namespaces=["/notifications"], transports=TRANSPORTS[transport], auth={"token": token})
    seqs = [server.publish(user=name, name="build", data={"n": n})["seq"] for n in range(30)]
    assert seqs == list(range(seqs[0], seqs[0] + 30))
    received = notification_events(peer, 30)
    assert [(e, d, m["stream"], m["seq"], o) for e, d, m, o in received] == [
        ("build", {"n": n}, "user", seq, str(seq)) for n, seq in enumerate(seqs)]
    peer.notes.nothing_for(0.3)


def test_the_unread_count_follows_messages_and_is_resent_on_connect(server, peers):
    bob, bob_token = new_user(server, "bob")
    _, alice_token = new_user(server, "alice")
    peer = peers().connect(server, namespaces=["/notifications"], auth={"token": bob_token})
    send_message(server, alice_token, bob, "hello bob")
    [(event, data, meta, offset)] = notification_events(peer, 1)
    assert (event, data, meta["stream"]) == ("unread_message_count", 1, "user")
    send_message(server, alice_token, bob, "again")
    [(event, data, meta, offset)] = notification_events(peer, 1)
    assert (event, data) == ("unread_message_count", 2)
    peer.client.disconnect()

    # A new connection, without an offset and with one: the state is re-sent, once.
    for auth in ({"token": bob_token}, {"token": bob_token, "offset": offset}):
        again = peers().connect(server, namespaces=["/notifications"], auth=auth)
        [(event, data, _, _)] = notification_events(again, 1)
        assert (event, data) == ("unread_message_count", 2), auth
        again.notes.nothing_for(0.3)


# --- Recovery by offset ------------------------------------------------------------------------

def parse_offset(offset):
    user, *channels = offset.split(";")
    return int(user), dict((name, int(seq)) for name, seq in (pair.split("=") for pair in channels))


def format_offset(user, channels):
    return str(user) + "".join(f";{name}={seq}" for name, seq in sorted(channels.items()))


def cursors_after(offset, events):
    """The connection's cursor after each of `events` (name, data, meta, offset), from `offset`."""
    user, channels = parse_offset(offset)
    expected = []
    for _, _, meta, _ in events:
        if meta["stream"] == "user":
            user = meta["seq"]
        else:
            channels[meta["stream"].removeprefix("channel:")] = meta["seq"]
        expected.append(format_offset(user, channels))
    return expected


def recover(herald, peers, restart):
    """Receive some (user stream and a channel), go away, more are published, come back with the
    last offset seen: exactly the missed ones, in order, then live ones, nothing twice."""
    name, token = new_user(herald)
    channel = f"rec-{name}"
    first = peers().connect(herald, namespaces=["/notifications"], auth={"token": token})
    assert first.call("join", {"channel": channel}) == {"channel": channel, "seq": 0}
    seen = []
    for n in range(3):
        seen.append(herald.publish(user=name, name="build", data={"n": n})["seq"])
        seen.append(herald.publish(channel=channel, name="news", data={"n": n})["seq"])
    received = notification_events(first, 6)
    assert [(e, d["n"], m["seq"]) for e, d, m, _ in received] == [
        (e, n, seq) for n in range(3) for e, seq in zip(("build", "news"), seen[2 * n:2 * n + 2])]
    offset = received[-1][3]
    assert offset == f"{seen[-2]};{channel}={seen[-1]}"
    first.client.disconnect()

    missed_user = [herald.publish(user=name, name="build", data={"n": n})["seq"] for n in (3, 4)]
    missed_channel = [herald.publish(channel=channel, name="news", data={"n": n})["seq"] for n in (3, 4)]
    if restart:
        assert herald.stop() == 0
        herald.start()
        missed_user.append(herald.publish(user=name, name="build", data={"n": 5})["seq"])
        missed_channel.append(herald.publish(channel=channel, name="news", data={"n": 5})["seq"])

    back = peers().connect(herald, namespaces=["/notifications"], auth={"token": token, "offset": offset})
    count = len(missed_user) + len(missed_channel)
    replayed = notification_events(back, count)
    user_part = [(d["n"], m["seq"]) for e, d, m, _ in replayed if m["stream"] == "user"]
    channel_part = [(d["n"], m["seq"]) for e, d, m, _ in replayed if m["stream"] == f"channel:{channel}"]
    assert user_part == list(zip(range(3, 3 + len(missed_user)), missed_user)), replayed
    assert channel_part == list(zip(range(3, 3 + len(missed_channel)), missed_channel)), replayed
    assert replayed[-1][3] == f"{missed_user[-1]};{channel}={missed_channel[-1]}"

    live_user = herald.publish(user=name, name="build", data={"n": 9})["seq"]
    live_channel = herald.publish(channel=channel, name="news", data={"n": 9})["seq"]
    live = notification_events(back, 2)
    assert [(e, d, m["seq"], o) for e, d, m, o in live] == [
        ("build", {"n": 9}, live_user, f"{live_user};{channel}={missed_channel[-1]}"),
        ("news", {"n": 9}, live_channel, f"{live_user};{channel}={live_channel}")]
    back.notes.nothing_for(0.5)
    # Every replayed event's offset is the whole connection's cursor after it, channels included
    # (as SSE's `id`), so that the client can resume from any of them.
    assert [o for _, _, _, o in replayed] == cursors_after(offset, replayed), replayed


def test_recovery_by_offset_on_the_same_server(server, peers):
    recover(server, peers, restart=False)


def test_recovery_by_offset_across_a_restart(own_server, peers):
    recover(own_server, peers, restart=True)


def test_a_client_connected_through_a_restart_is_disconnected_and_resumes(own_server, peers):
    name, token = new_user(own_server)
    first = peers().connect(own_server, namespaces=["/notifications"], transports=["polling"], auth={"token": token})
    seqs = [own_server.publish(user=name, name="build", data=n)["seq"] for n in range(2)]
    received = notification_events(first, 2)
    started = time.monotonic()
    assert own_server.stop() == 0
    assert time.monotonic() - started < 5, "SIGTERM with a Socket.IO polling client held the shutdown"
    namespace, _ = first.disconnects.next(timeout=5, what="disconnect at shutdown")
    assert namespace == "/notifications"
    own_server.start()
    later = own_server.publish(user=name, name="build", data=2)["seq"]
    back = peers().connect(own_server, namespaces=["/notifications"], transports=["websocket"],
                           auth={"token": token, "offset": received[-1][3]})
    [(event, data, meta, offset)] = notification_events(back, 1)
    assert (event, data, meta["seq"], offset) == ("build", 2, later, str(later)) and later == seqs[-1] + 1
    back.notes.nothing_for(0.3)


def test_resuming_twice_keeps_the_channels_of_the_offset(server, peers):
    """Resume, receive only replayed user events, go away again, resume from the last offset seen:
    the channel named in the first offset must still be followed (nothing lost)."""
    name, token = new_user(server)
    channel = f"twice-{name}"
    first = peers().connect(server, namespaces=["/notifications"], auth={"token": token})
    assert first.call("join", {"channel": channel}) == {"channel": channel, "seq": 0}
    news = server.publish(channel=channel, name="news", data="first")["seq"]
    [(_, _, _, offset)] = notification_events(first, 1)
    assert parse_offset(offset)[1] == {channel: news}
    first.client.disconnect()

    missed = server.publish(user=name, name="build", data="while away")["seq"]
    second = peers().connect(server, namespaces=["/notifications"], auth={"token": token, "offset": offset})
    [(event, data, meta, offset)] = notification_events(second, 1)
    assert (event, data, meta["seq"]) == ("build", "while away", missed)
    second.client.disconnect()

    lost = server.publish(channel=channel, name="news", data="while away again")["seq"]
    third = peers().connect(server, namespaces=["/notifications"], auth={"token": token, "offset": offset})
    received = third.notes.drain(1.5)
    assert [(e, args[0], args[1]["seq"]) for e, args in received] == [("news", "while away again", lost)], \
        f"resumed from offset {offset!r} (the replayed event's): the channel {channel} was dropped"


def test_sockets_connecting_while_publishes_race_them_get_every_event_once(server, peers):
    # As SSE's. A delivery the session's loop ran between a channel's subscription in the hub and
    # its hold once found a stream the socket did not know yet, and the event was lost.
    name, token = new_user(server)
    channel = f"race-{name}"
    first, end, sockets = server.connect_while_publishing(channel, lambda cursor: peers().connect(
        server, namespaces=["/notifications"], transports=TRANSPORTS["websocket"],
        auth={"token": token, "offset": f"0;{channel}={cursor}"}))
    for cursor, peer in sockets:
        received = notification_events(peer, end - cursor, timeout=10)
        assert [(m["seq"], d) for _, d, m, _ in received] == [
            (seq, seq - first - 1) for seq in range(cursor + 1, end)] + [(end, "end")], cursor
    assert len(sockets) > 3
