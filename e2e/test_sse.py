"""Server-Sent Events read by sseclient-py (a parser nobody here wrote), and the resume guarantee."""
import itertools
import json
import socket
import time

import requests
import sseclient
from hypothesis import HealthCheck, given, settings, strategies as st

_names = itertools.count()


def new_user(herald):
    name = f"u{next(_names)}_{int(time.time() * 1000) % 100000}"
    herald.add_user(name)
    return name, herald.token(name)


class Stream:
    """One SSE connection, read with sseclient-py."""

    def __init__(self, herald, token, path="/api/events", last_event_id=None):
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.response = requests.get(herald.base + path, headers=headers, stream=True, timeout=(5, 10))
        assert self.response.status_code == 200, self.response.text
        assert self.response.headers["Content-Type"] == "text/event-stream"
        assert self.response.headers["Cache-Control"] == "no-cache"
        assert self.response.headers["X-Accel-Buffering"] == "no"
        self.events = sseclient.SSEClient(self.response).events()

    def next(self):
        return next(self.events)

    def close(self):
        self.response.close()


def test_events_carry_id_name_and_json_data_and_resume_from_last_event_id(herald):
    name, token = new_user(herald)
    stream = Stream(herald, token)
    herald.publish(user=name, name="greeting", data={"text": "line one\nline two"}, mode="append")
    herald.publish(user=name, name="badge", data=3, mode="replace")
    first, second = stream.next(), stream.next()
    assert (first.id, first.event, json.loads(first.data)) == ("1", "greeting", {"text": "line one\nline two"})
    assert (second.id, second.event, second.data) == ("2", "badge", "3")
    stream.close()

    herald.publish(user=name, name="greeting", data="while away", mode="append")
    resumed = Stream(herald, token, last_event_id="1")
    got = [resumed.next() for _ in range(2)]
    # Event 2 is a state: it comes back (it is current), then the event missed while away.
    assert [(e.id, e.event, e.data) for e in got] == [("2", "badge", "3"), ("3", "greeting", '"while away"')]
    resumed.close()

    # A state the client has already seen is re-sent on reconnect, without an id (the cursor stays).
    again = Stream(herald, token, last_event_id="3")
    state = again.next()
    assert (state.event, state.data) == ("badge", "3")
    assert state.id in (None, "", "3")  # sseclient reports the last id it saw, if any
    again.close()


def test_channels_join_the_stream_with_a_composite_cursor(herald):
    name, token = new_user(herald)
    herald.publish(channel="news", name="headline", data="before", mode="append")
    stream = Stream(herald, token, path="/api/events?channel=news")
    herald.publish(channel="news", name="headline", data="live", mode="append")
    event = stream.next()
    # Joined without a cursor, a channel starts live: "before" is not replayed.
    assert (event.id, event.event, event.data) == ("0;news=2", "headline", '"live"')
    stream.close()
    herald.publish(channel="news", name="headline", data="missed", mode="append")
    herald.publish(user=name, name="ping", data=1)
    resumed = Stream(herald, token, path="/api/events?channel=news", last_event_id="0;news=2")
    got = sorted((e.id, e.data) for e in (resumed.next(), resumed.next()))
    assert got == [("1;news=2", "1"), ("1;news=3", '"missed"')]
    resumed.close()


def test_a_channel_joined_live_is_resumed_from_where_it_was_joined(herald):
    name, token = new_user(herald)
    for n in range(3):
        herald.publish(channel="history", name="old", data=n)
    stream = Stream(herald, token, path="/api/events?channel=history")
    herald.publish(user=name, name="ping", data=1)
    event = stream.next()
    # The id says the channel was joined at seq 3, so resuming does not replay the old lines.
    assert (event.id, event.event) == ("1;history=3", "ping")
    stream.close()
    herald.publish(channel="history", name="new", data=3)
    resumed = Stream(herald, token, path="/api/events?channel=history", last_event_id=event.id)
    event = resumed.next()
    assert (event.id, event.event, event.data) == ("1;history=4", "new", "3")
    resumed.close()


def test_a_channel_nobody_has_published_to_is_empty_at_seq_0_and_then_live(herald):
    name, token = new_user(herald)
    stream = Stream(herald, token, path="/api/events?channel=fresh-sse&since=0;fresh-sse=0")
    herald.publish(channel="fresh-sse", name="first", data=1)
    event = stream.next()
    assert (event.id, event.event, event.data) == ("0;fresh-sse=1", "first", "1")
    stream.close()


def test_a_stream_on_a_connection_that_served_other_requests_works_too(herald):
    # Browsers reuse keep-alive connections: the event stream may not be the connection's first request.
    name, token = new_user(herald)
    session = requests.Session()
    auth = {"Authorization": f"Bearer {token}"}
    assert session.get(herald.base + "/healthz", timeout=5).status_code == 200
    response = session.get(herald.base + "/api/events", headers=auth, stream=True, timeout=(5, 10))
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/event-stream"
    events = sseclient.SSEClient(response).events()
    herald.publish(user=name, name="reused", data=1)
    event = next(events)
    assert (event.id, event.event, event.data) == ("1", "reused", "1")
    response.close()


def test_members_only_channels_are_refused_to_others(herald):
    herald.add_user("member")
    name, token = new_user(herald)
    herald.add_members_channel("staff", ["member"])
    refused = requests.get(herald.base + "/api/events?channel=staff",
                           headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    member = Stream(herald, herald.token("member"), path="/api/events?channel=staff")
    member.close()


def test_bad_cursors_and_unknown_streams_are_clear_errors(herald):
    name, token = new_user(herald)
    herald.publish(user=name, name="e", data=1)
    auth = {"Authorization": f"Bearer {token}"}
    for query, headers, status, code in [
        ("?since=-1", {}, 400, "invalid_cursor"),
        ("?since=abc", {}, 400, "invalid_cursor"),
        ("", {"Last-Event-ID": "1;bad name=2"}, 400, "invalid_cursor"),
        ("?last_event_id=99", {}, 400, "cursor_ahead"),
        ("?channel=bad%20name", {}, 400, "invalid_channel"),
    ]:
        response = requests.get(herald.base + "/api/events" + query, headers={**auth, **headers}, timeout=5)
        assert response.status_code == status, (query, headers, response.text)
        assert response.json()["error"]["code"] == code
    assert requests.get(herald.base + "/api/events", timeout=5).status_code == 401
    assert requests.get(herald.base + "/healthz", timeout=5).status_code == 200


def test_a_cursor_older_than_the_retention_gets_a_reset_event(tmp_path):
    from conftest import Herald
    server = Herald(str(tmp_path), HERALD_RETENTION_COUNT="3").start()
    try:
        name, token = new_user(server)
        for n in range(6):
            server.publish(user=name, name="e", data=n, mode="append")
        stream = Stream(server, token, last_event_id="1")
        reset = stream.next()
        assert reset.event == "herald.reset"
        assert json.loads(reset.data)["missed_through"] == 3
        assert [stream.next().data for _ in range(3)] == ["3", "4", "5"]
        stream.close()
    finally:
        server.stop()


operations = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(min_value=1, max_value=6)),
        st.tuples(st.just("read"), st.integers(min_value=0, max_value=6)),
        st.tuples(st.just("reconnect"), st.sampled_from(["header", "since", "last_event_id"])),
    ),
    min_size=1, max_size=14)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_every_event_arrives_exactly_once_in_order_across_reconnects(shared_herald, ops):
    herald = shared_herald
    name, token = new_user(herald)
    published, received = 0, []
    stream = Stream(herald, token)

    def read(count):
        for _ in range(count):
            event = stream.next()
            received.append((int(event.id), int(event.data)))

    for op, arg in ops:
        if op == "publish":
            for _ in range(arg):
                herald.publish(user=name, name="e", data=published, mode="append")
                published += 1
        elif op == "read":
            read(min(arg, published - len(received)))
        else:
            # Drop the connection, possibly with events in flight, and resume from the last id seen.
            stream.close()
            cursor = str(received[-1][0]) if received else "0"
            if arg == "header":
                stream = Stream(herald, token, last_event_id=cursor)
            else:
                stream = Stream(herald, token, path=f"/api/events?{arg}={cursor}")
    read(published - len(received))
    stream.close()
    assert received == [(n + 1, n) for n in range(published)]


def test_a_subscriber_that_never_reads_is_cut_off_and_memory_stays_bounded(herald):
    name, token = new_user(herald)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = herald.base.split("//")[1].split(":")
    client.connect((host, int(port)))
    client.sendall(f"GET /api/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    assert client.recv(4096).startswith(b"HTTP/1.1 200")
    rss_before = herald.rss_kb()
    payload = "x" * 32_000
    total = 0
    for n in range(1500):  # 48 MB in all, far past any buffer the connection may keep
        herald.publish(user=name, name="bulk", data=payload, mode="append")
        total += len(payload)
    growth_mb = (herald.rss_kb() - rss_before) / 1024
    # The server gave up on the reader: draining the socket ends in EOF, long before 48 MB.
    client.settimeout(10)
    drained = 0
    while True:
        chunk = client.recv(1 << 16)
        if not chunk:
            break
        drained += len(chunk)
    client.close()
    assert drained < total / 4, f"read {drained} of {total} bytes"
    assert growth_mb < 40, f"server RSS grew {growth_mb:.1f} MB"
    assert requests.get(herald.base + "/healthz", timeout=5).status_code == 200


def test_a_history_larger_than_the_write_buffer_is_replayed_whole_on_every_transport(herald):
    """A replay is queued whole however far past the connection's write watermark: cutting a
    client off in the middle of it would send it back for the same replay forever."""
    from websockets.sync.client import connect
    name, token = new_user(herald)
    payloads = [str(n) * 60_000 for n in range(5)]
    for payload in payloads:
        herald.publish(user=name, name="big", data=payload, mode="append")
    stream = Stream(herald, token, path="/api/events?since=0")
    try:
        assert [json.loads(stream.next().data) for _ in payloads] == payloads
    finally:
        stream.close()
    with connect(herald.base.replace("http://", "ws://") + "/ws", additional_headers={"Authorization": f"Bearer {token}"},
                 open_timeout=5, max_size=None) as ws:
        ws.send('{"id": 1, "type": "subscribe", "stream": "user", "since": 0}')
        frames = [json.loads(ws.recv(timeout=10)) for _ in range(len(payloads) + 1)]
        assert [f["data"] for f in frames if f.get("name") == "big"] == payloads


def test_readers_connecting_while_publishes_race_them_get_every_event_once(herald):
    # Every reader gets each event after its cursor once, in order, across the seam between its
    # history and its live events, however the publishes fall around its connect.
    name, token = new_user(herald)
    total = 150
    first, end, readers = herald.connect_while_publishing("race-sse", lambda cursor: Stream(
        herald, token, path=f"/api/events?channel=race-sse&since=0;race-sse={cursor}"), total)
    for cursor, stream in readers:
        got = [stream.next() for _ in range(end - cursor)]
        assert [event.id for event in got] == [f"0;race-sse={seq}" for seq in range(cursor + 1, end + 1)], cursor
        assert [json.loads(event.data) for event in got] == list(range(cursor - first, total)) + ["end"], cursor
        stream.close()
    assert len(readers) > 10


def test_refusals_are_the_same_once_tokens_channels_and_streams_are_in_memory(herald):
    # The same checks when the token, the channels and their streams were looked up before.
    herald.add_user("insider")
    name, token = new_user(herald)
    herald.add_members_channel("inner", ["insider"])
    herald.publish(channel="inner", name="e", data=1)
    last = herald.publish(channel="open-room", name="e", data=1)["seq"]
    Stream(herald, herald.token("insider"), path="/api/events?channel=inner").close()
    Stream(herald, token, path="/api/events?channel=open-room").close()
    auth = {"Authorization": f"Bearer {token}"}
    for query, status, code in [
        ("?channel=inner", 403, "forbidden"),
        ("?channel=open-room&channel=inner", 403, "forbidden"),
        (f"?channel=open-room&since=0;open-room={last + 1}", 400, "cursor_ahead"),
        ("?channel=open-room&since=0;open-room=x", 400, "invalid_cursor"),
        ("?" + "&".join(f"channel=c{n}" for n in range(100)), 400, "too_many_streams"),
    ]:
        for _ in range(2):
            response = requests.get(herald.base + "/api/events" + query, headers=auth, timeout=5)
            assert response.status_code == status, (query, response.text)
            assert response.json()["error"]["code"] == code
