"""The /ws protocol driven by the `websockets` package (a client nobody here wrote)."""
import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from test_sse import new_user


def ws_url(herald):
    return herald.base.replace("http://", "ws://") + "/ws"


class Client:
    def __init__(self, herald, token=None, query=None):
        headers = {"Authorization": f"Bearer {token}"} if token else None
        url = ws_url(herald) + (f"?{query}" if query else "")
        # Entered like `with connect(...)`, as the library asks; `close` leaves it.
        self.ws = connect(url, additional_headers=headers, open_timeout=5, max_size=2 ** 22).__enter__()
        self.next_id = 0

    def send(self, **command):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, **command}))
        return self.next_id

    def recv(self):
        return json.loads(self.ws.recv(timeout=5))

    def call(self, **command):
        """Sends a command and returns its ack or error, collecting events that come first."""
        sent = self.send(**command)
        while True:
            frame = self.recv()
            if frame.get("id") == sent:
                return frame

    def close(self):
        self.ws.__exit__(None, None, None)


def test_subscribe_receive_resume_and_publish(herald):
    name, token = new_user(herald)
    herald.publish(user=name, name="badge", data=2, mode="replace")
    herald.publish(user=name, name="note", data={"n": 1}, mode="append")

    client = Client(herald, token)
    ack = client.call(type="subscribe", stream="user")
    assert ack == {"type": "ack", "id": 1, "stream": "user", "seq": 2}
    events = [client.recv(), client.recv()]
    assert [(e["stream"], e["seq"], e["name"], e["data"]) for e in events] == [
        ("user", 1, "badge", 2), ("user", 2, "note", {"n": 1})]
    herald.publish(user=name, name="note", data={"n": 2}, mode="append")
    live = client.recv()
    assert (live["type"], live["seq"], live["data"]) == ("event", 3, {"n": 2})
    client.close()

    # Resume after 2: the state is re-sent (marked), then only what is new.
    herald.publish(user=name, name="note", data={"n": 3}, mode="append")
    again = Client(herald, token)
    assert again.call(type="subscribe", stream="user", since=2)["type"] == "ack"
    first, second, third = again.recv(), again.recv(), again.recv()
    assert (first["seq"], first.get("resent")) == (1, True)
    assert [(e["seq"], e["data"]) for e in (second, third)] == [(3, {"n": 2}), (4, {"n": 3})]

    # Publishing to a public channel from the socket; another reader of the channel gets it.
    herald.publish(channel="lobby", name="message", data="opened")
    other_name, other_token = new_user(herald)
    other = Client(herald, other_token)
    assert other.call(type="subscribe", stream="channel:lobby")["type"] == "ack"
    published = again.call(type="publish", channel="lobby", name="message", data={"text": "hi"})
    assert published == {"type": "ack", "id": 2, "seq": 2}
    event = other.recv()
    assert (event["stream"], event["seq"], event["data"]) == ("channel:lobby", 2, {"text": "hi"})
    # A user cannot publish to someone else.
    refused = again.call(type="publish", user=other_name, name="x", data=1)
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert other.call(type="unsubscribe", stream="channel:lobby")["type"] == "ack"
    again.call(type="publish", channel="lobby", name="message", data="after")
    assert other.call(type="ping")["pong"] is True  # nothing arrived in between
    for c in (again, other):
        c.close()


def test_a_channel_nobody_has_published_to_is_empty_at_seq_0_and_then_live(herald):
    name, token = new_user(herald)
    client = Client(herald, token)
    ack = client.call(type="subscribe", stream="channel:fresh-ws", since=0)
    assert ack == {"type": "ack", "id": 1, "stream": "channel:fresh-ws", "seq": 0}
    herald.publish(channel="fresh-ws", name="first", data=1)
    event = client.recv()
    assert (event["type"], event["stream"], event["seq"], event["name"]) == ("event", "channel:fresh-ws", 1, "first")
    client.close()


def test_a_token_in_the_first_frame_authenticates(herald):
    name, token = new_user(herald)
    client = Client(herald)
    refused = client.call(type="subscribe", stream="user")
    assert (refused["type"], refused["code"]) == ("error", "unauthorized")
    bad = client.call(type="auth", token="hrd_wrong")
    assert (bad["type"], bad["code"]) == ("error", "unauthorized")
    assert client.call(type="auth", token=token) == {"type": "ack", "id": 3, "user": name}
    assert client.call(type="subscribe", stream="user")["type"] == "ack"
    client.close()


@pytest.mark.parametrize("raw, code", [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_json"),
    ('{"id": 9}', "unknown_type"),
    ('{"id": 9, "type": "dance"}', "unknown_type"),
    ('{"id": 9, "type": "subscribe"}', "invalid_stream"),
    ('{"id": 9, "type": "subscribe", "stream": "users"}', "invalid_stream"),
    ('{"id": 9, "type": "subscribe", "stream": "channel:no such"}', "invalid_stream"),
    ('{"id": 9, "type": "subscribe", "stream": "user", "since": -1}', "invalid_cursor"),
    ('{"id": 9, "type": "subscribe", "stream": "user", "since": 1.5}', "invalid_cursor"),
    ('{"id": 9, "type": "subscribe", "stream": "user", "since": "3"}', "invalid_cursor"),
    ('{"id": 9, "type": "subscribe", "stream": "user", "since": 999}', "cursor_ahead"),
    ('{"id": 9, "type": "publish", "channel": "lobby", "name": "bad name"}', "invalid_name"),
])
def test_bad_frames_get_error_frames_and_the_connection_lives_on(herald, raw, code):
    name, token = new_user(herald)
    client = Client(herald, token)
    client.ws.send(raw)
    error = client.recv()
    assert error["type"] == "error" and error["code"] == code, error
    assert client.call(type="ping")["pong"] is True
    client.close()


def test_oversized_and_binary_messages(herald):
    name, token = new_user(herald)
    client = Client(herald, token)
    client.ws.send(b"\x00\x01")
    assert client.recv()["code"] == "binary_frame"
    # Past the limit the socket is closed with the protocol's own "message too big" code.
    client.ws.send("x" * 200_000)
    with pytest.raises(ConnectionClosed) as closed:
        client.recv()
    assert closed.value.rcvd.code == 1009
    # The server is fine.
    fresh = Client(herald, token)
    assert fresh.call(type="ping")["pong"] is True
    fresh.close()


def test_cross_site_cookie_upgrades_are_refused(herald):
    import requests
    session = requests.Session()
    herald.add_user("victim", "victim-password")
    page = session.get(herald.base + "/login").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    session.post(herald.base + "/login", data={"csrf_token": csrf, "username": "victim", "password": "victim-password"})
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    with pytest.raises(Exception):
        connect(ws_url(herald), additional_headers={"Cookie": cookie, "Origin": "http://evil.example"}, open_timeout=5)
    with connect(ws_url(herald), additional_headers={"Cookie": cookie, "Origin": herald.base}, open_timeout=5) as same:
        same.send(json.dumps({"id": 1, "type": "subscribe", "stream": "user"}))
        assert json.loads(same.recv(timeout=5))["type"] == "ack"


def test_sigterm_closes_sockets_with_going_away(herald):
    name, token = new_user(herald)
    client = Client(herald, token)
    assert client.call(type="subscribe", stream="user")["type"] == "ack"
    assert herald.stop() == 0
    with pytest.raises(ConnectionClosed) as closed:
        client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def test_a_websocket_reader_that_falls_behind_is_closed_with_1013(herald):
    name, token = new_user(herald)
    # A client that stops reading: websockets stops pulling from the socket once 1 frame is queued.
    ws = connect(ws_url(herald), additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5,
                 max_queue=1, max_size=2 ** 22).__enter__()
    ws.send(json.dumps({"id": 1, "type": "subscribe", "stream": "user"}))
    payload = "y" * 32_000
    for _ in range(400):  # 12.8 MB: past the socket buffers and the connection's write watermark
        herald.publish(user=name, name="bulk", data=payload, mode="append")
    codes = []
    try:
        while True:
            ws.recv(timeout=10)
    except ConnectionClosed as closed:
        codes.append(closed.rcvd.code if closed.rcvd else None)
    ws.__exit__(None, None, None)
    assert codes == [1013]


def test_permessage_deflate_when_enabled(tmp_path):
    from conftest import Herald
    server = Herald(str(tmp_path), HERALD_WS_DEFLATE="1").start()
    try:
        name, token = new_user(server)
        client = Client(server, token)  # websockets offers permessage-deflate by default
        extensions = client.ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in extensions
        assert client.call(type="subscribe", stream="user")["type"] == "ack"
        server.publish(user=name, name="zipped", data={"text": "a" * 500})
        event = client.recv()
        assert (event["name"], event["data"]) == ("zipped", {"text": "a" * 500})
        client.close()
    finally:
        server.stop()


def test_without_deflate_none_is_negotiated(herald):
    name, token = new_user(herald)
    client = Client(herald, token)
    assert "permessage-deflate" not in client.ws.response.headers.get("Sec-WebSocket-Extensions", "")
    client.close()


@pytest.mark.parametrize("deflate", [False, True], ids=["herald-frames", "hummingbird-deflate"])
def test_streams_named_in_the_url_are_subscribed_with_no_command(tmp_path, deflate):
    from conftest import Herald
    server = Herald(str(tmp_path), **({"HERALD_WS_DEFLATE": "1"} if deflate else {})).start()
    try:
        name, token = new_user(server)
        server.publish(user=name, name="badge", data=2, mode="replace")
        server.publish(user=name, name="note", data={"n": 1}, mode="append")
        server.publish(channel="lobby", name="message", data="one")
        server.publish(channel="lobby", name="message", data="two")

        # Both streams, resumed from the SSE form of a cursor: user after 1, the lobby after 1.
        client = Client(server, token, query="stream=user&stream=channel:lobby&since=1;lobby=1")
        assert client.recv() == {"type": "ack", "id": None, "stream": "user", "seq": 2}
        resent, note = client.recv(), client.recv()
        assert (resent["seq"], resent.get("resent")) == (1, True)
        assert (note["stream"], note["seq"], note["data"]) == ("user", 2, {"n": 1})
        assert client.recv() == {"type": "ack", "id": None, "stream": "channel:lobby", "seq": 2}
        two = client.recv()
        assert (two["stream"], two["seq"], two["data"]) == ("channel:lobby", 2, "two")
        # Live events follow, and commands work as on any connection.
        server.publish(channel="lobby", name="message", data="three")
        live = client.recv()
        assert (live["stream"], live["seq"], live["data"]) == ("channel:lobby", 3, "three")
        client.ws.send(json.dumps({"id": 9, "type": "ping"}))
        assert client.recv() == {"type": "ack", "id": 9, "pong": True}
        client.close()

        # A channel without a cursor starts live, as a subscribe command without `since` does.
        client = Client(server, token, query="stream=channel:lobby")
        assert client.recv() == {"type": "ack", "id": None, "stream": "channel:lobby", "seq": 3}
        server.publish(channel="lobby", name="message", data="four")
        assert client.recv()["seq"] == 4
        client.close()
    finally:
        server.stop()


def test_commands_sent_while_the_url_streams_are_subscribed_run_after_them(herald):
    name, token = new_user(herald)
    # Fifty streams: the 101 leaves with the first one's ack, and the ping is sent as soon as it
    # arrives, while the others are still being subscribed.
    channels = [f"c{n}" for n in range(49)]
    client = Client(herald, token, query="&".join(["stream=user"] + [f"stream=channel:{c}" for c in channels]))
    client.ws.send(json.dumps({"id": 1, "type": "ping"}))
    frames = [client.recv() for _ in range(51)]
    assert [f["stream"] for f in frames[:50]] == ["user"] + [f"channel:{c}" for c in channels]
    assert frames[50] == {"type": "ack", "id": 1, "pong": True}
    client.close()


@pytest.mark.parametrize("query,status,code", [
    ("stream=bogus", 400, "invalid_stream"),
    ("stream=channel:no%20spaces", 400, "invalid_stream"),
    ("stream=user&since=x", 400, "invalid_cursor"),
    ("stream=user&since=-1", 400, "invalid_cursor"),
    ("since=3", 400, "invalid_cursor"),
    ("stream=channel:staff", 403, "forbidden"),
    ("&".join(f"stream=channel:c{n}" for n in range(100)) + "&stream=user", 400, "too_many_streams"),
])
def test_url_subscriptions_that_cannot_be_made_refuse_the_upgrade(herald, query, status, code):
    from websockets.exceptions import InvalidStatus
    herald.add_user("member")
    herald.add_members_channel("staff", ["member"])
    name, token = new_user(herald)
    with pytest.raises(InvalidStatus) as refused:
        Client(herald, token, query=query)
    assert refused.value.response.status_code == status
    assert json.loads(refused.value.response.body)["error"]["code"] == code
    # Without credentials on the upgrade (the `auth` command comes too late): 401.
    with pytest.raises(InvalidStatus) as anonymous:
        connect(ws_url(herald) + "?stream=user", open_timeout=5)
    assert anonymous.value.response.status_code == 401
    # The server is fine.
    fresh = Client(herald, token)
    assert fresh.call(type="ping")["pong"] is True
    fresh.close()


def test_on_the_deflate_path_a_url_stream_that_cannot_be_subscribed_is_an_error_frame_and_a_close(tmp_path):
    from conftest import Herald
    server = Herald(str(tmp_path), HERALD_WS_DEFLATE="1").start()
    try:
        name, token = new_user(server)
        client = Client(server, token, query="stream=bogus")
        error = client.recv()
        assert (error["type"], error["id"], error["code"]) == ("error", None, "invalid_stream")
        with pytest.raises(ConnectionClosed) as closed:
            client.recv()
        assert closed.value.rcvd.code == 1008
    finally:
        server.stop()


def test_url_readers_connecting_while_publishes_race_them_get_every_event_once(herald):
    # As SSE's. A delivery the event loop ran between a stream's subscription in the hub and its
    # hold once found a stream the reader did not know yet, and the event was lost.
    name, token = new_user(herald)
    total = 150
    first, end, readers = herald.connect_while_publishing(
        "race-ws", lambda cursor: Client(herald, token, query=f"stream=channel:race-ws&since=0;race-ws={cursor}"), total)
    for cursor, client in readers:
        ack = client.recv()
        assert (ack["type"], ack["stream"]) == ("ack", "channel:race-ws")
        got = [client.recv() for _ in range(end - cursor)]
        assert [(event["type"], event["seq"]) for event in got] == [("event", seq) for seq in range(cursor + 1, end + 1)], cursor
        assert [event["data"] for event in got] == list(range(cursor - first, total)) + ["end"], cursor
        client.close()
    assert len(readers) > 10
