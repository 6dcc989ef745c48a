"""Other processes publish to Herald through a real redis-server, with the seeds' own code,
unchanged: `redis-cli PUBLISH herald:channel:NAME`, Flask-SSE's `sse.publish(...)` and
Flask-SocketIO's external emitter (`SocketIO(message_queue=...)`). What reaches a channel is
persisted: readers on every transport get it, and a reader that comes later resumes it by cursor."""
import json
import tempfile
import time

import pytest
import requests
import socketio
from flask import Flask
from flask_socketio import SocketIO
from flask_sse import sse

from conftest import Herald, RedisServer
from test_socketio_interop import Inbox, is_tick, socketio_settings


@pytest.fixture(scope="module")
def redis():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def herald(redis):
    server = Herald(tempfile.mkdtemp(prefix="herald-redis-"), HERALD_REDIS_URL=redis.url,
                    HERALD_FLASK_SSE_CHANNELS="sse,alerts", **socketio_settings())
    server.start()
    server.add_user("reader")
    server.reader_token = server.token("reader")
    wait_until_listening(redis)
    yield server
    server.stop()


def wait_until_listening(redis, deadline=10):
    end = time.monotonic() + deadline
    while redis.subscribers("sse") < 1 or redis.subscribers("flask-socketio") < 1:
        assert time.monotonic() < end, "Herald never subscribed on Redis"
        time.sleep(0.05)


def sse_events(herald, channel, since, count, timeout=5):
    """The next `count` events (event, data, id) of a channel over SSE, from cursor `since`."""
    response = requests.get(herald.base + f"/api/events?channel={channel}&since=0;{channel}={since}",
                            headers={"Authorization": f"Bearer {herald.reader_token}"}, stream=True, timeout=timeout)
    assert response.status_code == 200, response.text
    events, current = [], {}
    deadline = time.monotonic() + timeout
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith(("event:", "data:", "id:")):
            key, _, value = line.partition(": ")
            current[key] = value
        elif line == "" and "data" in current:
            events.append((current.get("event", "message"), json.loads(current["data"]), current.get("id")))
            current = {}
            if len(events) == count or time.monotonic() > deadline:
                break
    response.close()
    return events


def test_redis_cli_publish_reaches_a_channel_and_is_persisted(herald, redis):
    assert redis.cli("PUBLISH", "herald:channel:cli-news", '{"name": "news", "data": {"n": 1}}') == "1"
    assert redis.cli("PUBLISH", "herald:channel:cli-news", '{"name": "news", "data": [2, "two"], "mode": "append"}') == "1"
    # A reader that connects afterwards gets both from the store, in order, by cursor.
    events = sse_events(herald, "cli-news", 0, 2)
    assert [(e, d) for e, d, _ in events] == [("news", {"n": 1}), ("news", [2, "two"])]
    assert [i for _, _, i in events] == ["0;cli-news=1", "0;cli-news=2"]


def test_bad_messages_are_ignored_and_nothing_else_is_lost(herald, redis):
    for bad in ("not json", "[1, 2]", '{"data": 1}', '{"name": "herald.reset", "data": 1}', '{"name": "x y", "data": 1}'):
        assert redis.cli("PUBLISH", "herald:channel:bad-input", bad) == "1"
    assert redis.cli("PUBLISH", "herald:channel:bad input", '{"name": "n", "data": 1}') == "1"
    assert redis.cli("PUBLISH", "flask-socketio", '{"method": "emit"}') == "1"
    assert redis.cli("PUBLISH", "sse", "{") == "1"
    assert redis.cli("PUBLISH", "herald:channel:bad-input", '{"name": "good", "data": "after"}') == "1"
    events = sse_events(herald, "bad-input", 0, 1)
    assert [(e, d, i) for e, d, i in events] == [("good", "after", "0;bad-input=1")]
    assert requests.get(herald.base + "/healthz", timeout=5).status_code == 200


def flask_sse_app(redis_url):
    app = Flask(__name__)
    app.config["REDIS_URL"] = redis_url
    app.register_blueprint(sse, url_prefix="/stream")
    return app


def test_flask_sse_publish_unchanged(herald, redis):
    app = flask_sse_app(redis.url)
    with app.app_context():
        sse.publish({"tag": "x"}, type="greeting")
        sse.publish("plain text")  # no type: the event is `message`
        sse.publish({"level": "high"}, type="alert", channel="alerts")
        sse.publish({"ignored": True}, type="x", channel="not-configured")
    events = sse_events(herald, "sse", 0, 2)
    assert [(e, d) for e, d, _ in events] == [("greeting", {"tag": "x"}), ("message", "plain text")]
    assert [(e, d) for e, d, _ in sse_events(herald, "alerts", 0, 1)] == [("alert", {"level": "high"})]
    # Nothing of the unconfigured channel was kept: a later marker is its first event.
    assert redis.cli("PUBLISH", "herald:channel:not-configured", '{"name": "marker", "data": 0}') == "1"
    assert [(e, i) for e, _, i in sse_events(herald, "not-configured", 0, 1)] == [("marker", "0;not-configured=1")]


def test_flask_socketio_external_emitter_unchanged(herald, redis):
    """`SocketIO(message_queue=...)` in a process that serves nothing: an emit to a room of
    /notifications lands in the channel of that name (persisted); an emit to /test goes live to
    its sockets, as python-socketio's own servers do with it."""
    name, _ = herald.add_user("flaskfan")
    token = herald.token(name)
    notes, tests = Inbox(), Inbox(skip=is_tick)
    client = socketio.Client(reconnection=False)
    client.on("*", lambda event, *args: notes.put((event, args)), namespace="/notifications")
    client.on("my_response", lambda data: tests.put(data), namespace="/test")
    client.connect(herald.base, namespaces=["/notifications", "/test"], auth={"token": token}, wait_timeout=5)
    try:
        assert tests.next()["data"] == "Connected"
        assert client.call("join", {"channel": "ext"}, namespace="/notifications", timeout=5) == {"channel": "ext", "seq": 0}

        emitter = SocketIO(message_queue=redis.url)
        emitter.emit("ext_news", {"tag": "y"}, namespace="/notifications", to="ext")
        emitter.emit("my_response", {"data": "from a Flask worker"}, namespace="/test")

        event, args = next(item for item in iter(lambda: notes.next(what="ext_news"), None) if item[0] != "status")
        assert event == "ext_news" and args[0] == {"tag": "y"} and args[1]["stream"] == "channel:ext"
        assert args[2] == f"0;ext={args[1]['seq']}"
        assert tests.next(what="the live emit to /test") == {"data": "from a Flask worker"}
    finally:
        client.disconnect()
    # Persisted: an SSE reader that comes later gets it from the store.
    assert [(e, d) for e, d, _ in sse_events(herald, "ext", 0, 1)] == [("ext_news", {"tag": "y"})]


def test_herald_listens_again_after_redis_restarts(herald, redis):
    redis.stop()
    time.sleep(0.5)
    redis.start()
    wait_until_listening(redis)
    assert redis.cli("PUBLISH", "herald:channel:after-restart", '{"name": "back", "data": true}') == "1"
    assert [(e, d) for e, d, _ in sse_events(herald, "after-restart", 0, 1)] == [("back", True)]
