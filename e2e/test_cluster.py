"""Several Herald nodes on one PostgreSQL (real servers, started here), with the bus between them
over Redis or over PostgreSQL's LISTEN/NOTIFY: what is published through one node reaches readers
on the others, over SSE, /ws and Socket.IO; and nothing is lost or repeated when Redis goes away,
when a node is killed, or when PostgreSQL restarts. The Redis publishers of the seeds (redis-cli,
Flask-SSE, Flask-SocketIO) reach every node, and what they publish is stored once."""
import itertools
import json
import os
import signal
import subprocess
import types
import tempfile
import threading
import time
import uuid

import pytest
import requests
import socketio
from flask import Flask
from flask_socketio import SocketIO
from flask_sse import sse

from conftest import ROOT, Herald, PostgresServer, RedisServer, free_port, note_secret
from selenium.webdriver.support.ui import WebDriverWait

from test_browser import badge, browsers, log_in, send  # noqa: F401 (browsers is a fixture)
from test_socketio_interop import Inbox, Peer
from test_sse import Stream
from test_websocket import Client as WebSocketClient

_names = itertools.count(1)


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis():
    server = RedisServer().start()
    yield server
    server.stop()


class Cluster:
    """Nodes sharing one database, and Redis for the bus; or, with `bus="postgres"`, only the
    database (LISTEN/NOTIFY between them, no Redis at all)."""

    def __init__(self, postgres, redis, bus="redis"):
        self.database = postgres.database(f"herald_{uuid.uuid4().hex[:8]}")
        self.redis, self.bus = redis, bus
        self.secret = note_secret(uuid.uuid4().hex)
        self.nodes = []

    def node(self):
        settings = dict(HERALD_DATABASE_URL=self.database, HERALD_RETENTION_COUNT="100000",
                        HERALD_CLUSTER_SECRET=self.secret)
        if self.bus == "redis":
            settings.update(HERALD_REDIS_URL=self.redis.url, HERALD_FLASK_SSE_CHANNELS="sse,cluster-feed,cluster-room")
        else:
            settings.update(HERALD_BUS="postgres")
        node = Herald(tempfile.mkdtemp(prefix="herald-node-"), **settings)
        node.start()
        wait_ready(node)
        self.nodes.append(node)
        return node

    def stop(self):
        for node in self.nodes:
            if node.process.poll() is None:
                node.stop()


def wait_ready(node, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(node.base + "/readyz", timeout=5)
        if response.status_code == 200:
            return response.json()
        assert time.monotonic() < deadline, f"node never became ready: {response.text}"
        time.sleep(0.1)


@pytest.fixture(scope="module", params=["redis", "postgres"])
def cluster(request, postgres, redis):
    """Two nodes, for what must hold whichever bus joins them."""
    cluster = Cluster(postgres, redis, bus=request.param)
    cluster.a, cluster.b = cluster.node(), cluster.node()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def redis_cluster(postgres, redis):
    """Two nodes joined by Redis, for what concerns Redis itself."""
    cluster = Cluster(postgres, redis)
    cluster.a, cluster.b = cluster.node(), cluster.node()
    yield cluster
    cluster.stop()


def new_user(node):
    name = f"c{next(_names)}_{uuid.uuid4().hex[:6]}"
    node.add_user(name)
    return name, node.token(name)


def publish(node, key, **body):
    response = requests.post(node.base + "/api/publish", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def events(stream, count):
    return [(e.id, e.event, json.loads(e.data)) for e in (stream.next() for _ in range(count))]


def test_readyz_names_the_store_and_the_bus(cluster):
    expected = {"redis": {"redis": "ok"}, "postgres": {"bus": "ok"}}[cluster.bus]
    assert wait_ready(cluster.a) == {"status": "ready", "store": "ok", **expected}
    assert requests.get(cluster.b.base + "/healthz", timeout=5).status_code == 200


def test_an_event_too_large_for_notify_arrives_whole(cluster):
    name, token = new_user(cluster.a)
    stream = Stream(cluster.b, token)
    try:
        big = "x" * 20_000  # NOTIFY carries 8,000 bytes: this one travels as a reference
        publish(cluster.a, cluster.a.key(), user=name, name="big", data={"text": big})
        publish(cluster.a, cluster.a.key(), user=name, name="small", data=2)
        assert events(stream, 2) == [("1", "big", {"text": big}), ("2", "small", 2)]
    finally:
        stream.close()


def test_what_is_published_through_a_reaches_readers_on_b_over_sse_ws_and_socketio(cluster):
    name, token = new_user(cluster.a)
    key = cluster.a.key()
    sse_b = Stream(cluster.b, token, path="/api/events?channel=cluster-news")
    ws_b = WebSocketClient(cluster.b, token)
    assert ws_b.call(type="subscribe", stream="user")["type"] == "ack"
    notes = Inbox()
    sio_b = socketio.Client(reconnection=False)
    sio_b.on("*", lambda event, *args: notes.put((event, args)), namespace="/notifications")
    sio_b.connect(cluster.b.base, namespaces=["/notifications"], auth={"token": token}, wait_timeout=5)
    try:
        for n in range(1, 6):
            publish(cluster.a, key, user=name, name="note", data={"n": n})
        publish(cluster.a, key, channel="cluster-news", name="headline", data="from a")

        got = events(sse_b, 6)
        assert [(i, e, d) for i, e, d in got[:5]] == [(f"{n};cluster-news=0", "note", {"n": n}) for n in range(1, 6)]
        assert got[5][1:] == ("headline", "from a")
        frames = [ws_b.recv() for _ in range(5)]
        assert [(f["seq"], f["data"]) for f in frames] == [(n, {"n": n}) for n in range(1, 6)]
        received = [notes.next(what="a Socket.IO notification") for _ in range(5)]
        received = [(event, args) for event, args in received]
        assert [(event, args[0]) for event, args in received] == [("note", {"n": n}) for n in range(1, 6)]
        # Node B counts what came off the bus: the link is up, nothing is held, the lag measured.
        metrics = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                   for line in requests.get(cluster.b.base + "/metrics", timeout=5).text.splitlines()
                   if line and not line.startswith("#")}
        assert metrics["herald_bus_up"] == 1 and metrics["herald_bus_held_messages"] == 0
        assert metrics["herald_bus_lag_seconds_count"] >= 6
    finally:
        sse_b.close()
        ws_b.close()
        sio_b.disconnect()


def test_socketio_rooms_and_broadcasts_reach_sockets_on_every_node(cluster):
    """Flask-SocketIO's example namespace, /test: emits made by handlers on one node (to a room,
    to the whole namespace) reach the sockets connected to the other."""
    alice = Peer().connect(cluster.a, namespaces=["/test"], transports=["websocket"])
    bob = Peer().connect(cluster.b, namespaces=["/test"], transports=["websocket"])
    carol = Peer().connect(cluster.b, namespaces=["/test"], transports=["websocket"])
    try:
        for peer in (alice, bob, carol):
            peer.test.next(what="the welcome")
        for peer in (alice, bob):
            peer.emit("join", {"room": "cluster-room"})
            assert "cluster-room" in peer.test.next(what="the join's answer")["data"]
        bob.emit("my_room_event", {"room": "cluster-room", "data": "to the room"})
        assert alice.test.next(what="the room event from node B")["data"] == "to the room"
        assert bob.test.next()["data"] == "to the room"
        alice.emit("my_broadcast_event", {"data": "to everyone"})
        for peer in (alice, bob, carol):
            assert peer.test.next(what="the broadcast from node A")["data"] == "to everyone"
        carol.test.nothing_for(0.5)  # the room event was not hers, and nothing came twice
        bob.test.nothing_for(0.1)
    finally:
        for peer in (alice, bob, carol):
            peer.client.disconnect()


def test_a_message_sent_in_a_browser_on_a_lights_the_badge_of_a_browser_on_b(cluster, browsers):
    sender, recipient = (f"b{next(_names)}_{uuid.uuid4().hex[:6]}" for _ in range(2))
    for name in (sender, recipient):
        cluster.a.add_user(name, "a-good-password")
    on_a, on_b = browsers(), browsers()
    log_in(on_a, cluster.a.base, sender, "a-good-password")
    log_in(on_b, cluster.b.base, recipient, "a-good-password")
    on_b.get(cluster.b.base + "/users")
    assert not badge(on_b).is_displayed()
    send(on_a, cluster.a.base, recipient, "across the cluster")
    WebDriverWait(on_b, 5, poll_frequency=0.05).until(lambda d: badge(d).is_displayed() and badge(d).text == "1")
    assert on_b.current_url == cluster.b.base + "/users"  # no reload


def test_socketio_notifications_resume_by_offset_on_another_node(cluster):
    name, token = new_user(cluster.a)
    key = cluster.a.key()
    first = Peer().connect(cluster.a, namespaces=["/notifications"], transports=["websocket"], auth={"token": token})
    publish(cluster.a, key, user=name, name="note", data=1)
    _, (data, meta, offset) = first.notes.next(what="the first notification")
    assert (data, meta["seq"]) == (1, 1)
    first.client.disconnect()
    for n in (2, 3):
        publish(cluster.a, key, user=name, name="note", data=n)  # while away
    again = Peer().connect(cluster.b, namespaces=["/notifications"], transports=["websocket"],
                           auth={"token": token, "offset": offset})
    try:
        publish(cluster.a, key, user=name, name="note", data=4)
        got = [again.notes.next(what="a resumed notification") for _ in range(3)]
        assert [(event, args[0], args[1]["seq"]) for event, args in got] == [("note", n, n) for n in (2, 3, 4)]
        again.notes.nothing_for(0.3)
    finally:
        again.client.disconnect()


@pytest.fixture
def nginx(cluster, tmp_path):
    """deploy/nginx.conf, as README tells a user to run it: round robin over the nodes, no affinity."""
    port = free_port()
    upstreams = " ".join(f"server {node.base.removeprefix('http://')} max_fails=0;" for node in (cluster.a, cluster.b))
    with open(os.path.join(ROOT, "deploy", "nginx.conf")) as template:
        config = template.read().replace("@UPSTREAMS@", upstreams).replace("@PORT@", str(port))
    (tmp_path / "temp").mkdir()
    (tmp_path / "nginx.conf").write_text(config)
    process = subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", "nginx.conf", "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "nginx did not start"
        time.sleep(0.05)
    yield types.SimpleNamespace(base=base)
    process.terminate()
    process.wait(timeout=10)


def test_engineio_polling_through_nginx_round_robin_needs_no_affinity(cluster, nginx):
    """Each request may land on either node: the one without the session forwards a poll to the
    one with it, and relays a WebSocket upgrade to it. A long exchange on polling alone, then
    connections that upgrade."""
    upgraded = 0
    for attempt, transports in enumerate([["polling"]] + [["polling", "websocket"]] * 6):
        peer = Peer().connect(nginx, namespaces=["/test"], transports=transports)
        try:
            assert peer.test.next(what="the welcome")["data"] == "Connected"
            for n in range(30 if attempt < 2 else 5):
                peer.emit("my_event", {"data": f"{attempt}-{n}"})
                assert peer.test.next(what=f"the echo of {attempt}-{n}")["data"] == f"{attempt}-{n}"
            time.sleep(0.3)  # the upgrade, if it is to happen, has by now
            upgraded += peer.client.transport() == "websocket"
            peer.emit("my_event", {"data": "last"})
            assert peer.test.next(what="the last echo")["data"] == "last"
        finally:
            peer.client.disconnect()
    assert upgraded == 6, f"{upgraded} of 6 connections upgraded to WebSocket through nginx"


def test_a_session_on_a_is_polled_and_upgraded_through_b(cluster):
    """The same, by hand and without nginx: the handshake on A, then every request to B."""
    from websockets.sync.client import connect as ws_connect
    opened = requests.get(cluster.a.base + "/socket.io/?EIO=4&transport=polling", timeout=5)
    sid = json.loads(opened.text[1:])["sid"]
    through_b = cluster.b.base + f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    assert requests.post(through_b, data="40/test,", timeout=5).text == "ok"
    polled = requests.get(through_b, timeout=20).text
    assert polled.startswith('40/test,{"sid":'), polled
    url = cluster.b.base.replace("http://", "ws://") + f"/socket.io/?EIO=4&transport=websocket&sid={sid}"
    with ws_connect(url, open_timeout=5) as socket:
        socket.send("2probe")
        assert socket.recv(timeout=5) == "3probe"
        socket.send("5")
        socket.send('42/test,["my_event",{"data":"relayed"}]')
        while True:
            packet = socket.recv(timeout=5)
            if packet.startswith("42/test,") and "relayed" in packet:
                break
        # The session is now the WebSocket's: polling it is refused wherever the poll lands.
        assert requests.get(through_b, timeout=5).status_code == 400


def test_a_message_sent_on_a_updates_the_unread_count_read_on_b(cluster):
    sender, sender_token = new_user(cluster.a)
    recipient, recipient_token = new_user(cluster.b)
    stream = Stream(cluster.b, recipient_token)
    try:
        for body in ("one", "two"):
            response = requests.post(cluster.a.base + "/api/messages", json={"to": recipient, "body": body},
                                     headers={"Authorization": f"Bearer {sender_token}"}, timeout=5)
            assert response.status_code == 201, response.text
        assert [(e, d) for _, e, d in events(stream, 2)] == [("unread_message_count", 1), ("unread_message_count", 2)]
    finally:
        stream.close()


class Follower(threading.Thread):
    """Follows one user's stream over SSE on a node, reconnecting by cursor (Last-Event-ID) to
    the next node whenever the connection breaks; records every event it is handed."""

    def __init__(self, nodes, token):
        super().__init__(daemon=True)
        self.nodes, self.token = nodes, token
        self.seqs, self.last_id, self.stopping = [], None, False
        self.reconnects = 0

    def run(self):
        turn = 0
        while not self.stopping:
            node = self.nodes[turn % len(self.nodes)]
            turn += 1
            try:
                stream = Stream(node, self.token, last_event_id=self.last_id)
                self.stream = stream
                while not self.stopping:
                    event = stream.next()
                    if event.event == "tick":
                        self.seqs.append(json.loads(event.data))
                        self.last_id = event.id
            except Exception:
                self.reconnects += 1
                time.sleep(0.2)

    def wait_for(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.seqs) < count:
            assert time.monotonic() < deadline, f"got {len(self.seqs)} of {count} events: {self.seqs[-5:]}"
            time.sleep(0.05)

    def finish(self):
        self.stopping = True
        try:
            self.stream.close()
        except Exception:
            pass


def test_redis_stopped_mid_stream_loses_nothing_and_the_nodes_recover_by_themselves(redis_cluster):
    name, token = new_user(redis_cluster.a)
    key = redis_cluster.a.key()
    on_a, on_b = Follower([redis_cluster.a], token), Follower([redis_cluster.b], token)
    on_a.start(), on_b.start()
    time.sleep(0.5)
    total = 60
    for n in range(1, total + 1):
        if n == 20:
            redis_cluster.redis.stop()
        if n == 40:
            redis_cluster.redis.start()
        publish(redis_cluster.a, key, user=name, name="tick", data=n)
        time.sleep(0.03)
    try:
        for follower in (on_a, on_b):
            follower.wait_for(total)
        time.sleep(0.5)  # anything repeated would have arrived by now
        for follower in (on_a, on_b):
            assert follower.seqs == list(range(1, total + 1))
        for node in (redis_cluster.a, redis_cluster.b):
            wait_ready(node)
    finally:
        on_a.finish(), on_b.finish()


def test_a_forged_bus_message_is_refused(redis_cluster):
    """Anyone who can PUBLISH on Redis (the Flask publishers can) could otherwise put events in any
    user's stream: the nodes take only messages signed with the cluster's secret."""
    name, token = new_user(redis_cluster.a)
    stream = Stream(redis_cluster.b, token)
    try:
        # Seq 1 of every user stream this module's users can have: had it been taken, it would
        # arrive before the real event.
        forged = {"v": 1, "node": "mallory123", "events": [{
            "stream": f"user:{n}", "seq": 1, "id": 1, "name": "forged", "mode": "append", "data": "1", "ts": 0}
            for n in range(1, 200)]}
        assert redis_cluster.redis.cli("PUBLISH", "herald:bus", json.dumps(forged)) == "2"
        publish(redis_cluster.a, redis_cluster.a.key(), user=name, name="real", data=1)
        assert events(stream, 1) == [("1", "real", 1)]
    finally:
        stream.close()


def test_readyz_fails_while_redis_is_down(redis_cluster):
    redis_cluster.redis.stop()
    try:
        deadline = time.monotonic() + 10
        while (response := requests.get(redis_cluster.b.base + "/readyz", timeout=5)).status_code == 200:
            assert time.monotonic() < deadline, "readyz stayed 200 with Redis down"
            time.sleep(0.1)
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "store": "ok", "redis": "unavailable"}
    finally:
        redis_cluster.redis.start()
    wait_ready(redis_cluster.b)


@pytest.mark.parametrize("bus", ["redis", "postgres"])
def test_a_killed_nodes_readers_resume_on_another_with_their_cursor(postgres, redis, bus):
    cluster = Cluster(postgres, redis, bus=bus)
    a, b = cluster.node(), cluster.node()
    try:
        name, token = new_user(a)
        key = a.key()
        follower = Follower([b, a], token)
        follower.start()
        time.sleep(0.5)
        for n in range(1, 41):
            if n == 15:
                b.process.send_signal(signal.SIGKILL)
                b.process.wait(timeout=10)
            publish(a, key, user=name, name="tick", data=n)
            time.sleep(0.02)
        follower.wait_for(40)
        time.sleep(0.3)
        follower.finish()
        assert follower.seqs == list(range(1, 41))
        assert follower.reconnects >= 1
    finally:
        cluster.stop()


def wait_for_a_leader(cluster, token, timeout=15):
    """Until some node stores what arrives through Redis (leadership changes hands within half a
    second, but another test may just have restarted PostgreSQL)."""
    probe = Stream(cluster.a, token, path="/api/events?channel=cluster-probe")
    try:
        deadline = time.monotonic() + timeout
        received = threading.Event()

        def read():
            probe.next()
            received.set()

        threading.Thread(target=read, daemon=True).start()
        while not received.wait(0.3):
            assert time.monotonic() < deadline, "no node ingests Redis publishes"
            cluster.redis.cli("PUBLISH", "herald:channel:cluster-probe", '{"name": "probe", "data": 0}')
    finally:
        probe.close()


def test_the_seeds_redis_publishers_reach_every_node_and_are_stored_once(redis_cluster):
    _, token = new_user(redis_cluster.a)
    wait_for_a_leader(redis_cluster, token)
    channel = "cluster-feed"
    readers = [Stream(node, token, path=f"/api/events?channel={channel}") for node in (redis_cluster.a, redis_cluster.b)]
    try:
        assert redis_cluster.redis.cli("PUBLISH", f"herald:channel:{channel}", '{"name": "cli", "data": 1}') in ("1", "2")
        flask_sse = Flask("cluster-sse")
        flask_sse.config["REDIS_URL"] = redis_cluster.redis.url
        with flask_sse.app_context():
            sse.publish({"n": 2}, type="sse", channel=channel)
        emitter = SocketIO(message_queue=redis_cluster.redis.url)
        emitter.emit("sio", {"n": 3}, namespace="/notifications", to=channel)
        for reader in readers:
            got = events(reader, 3)
            # One node stores each: seqs 1, 2, 3, the same on both.
            assert [(i, e, d) for i, e, d in got] == [
                (f"0;{channel}=1", "cli", 1), (f"0;{channel}=2", "sse", {"n": 2}), (f"0;{channel}=3", "sio", {"n": 3})]
    finally:
        for reader in readers:
            reader.close()


def test_the_seeds_publishers_reach_a_browser_in_a_room_on_the_other_node(redis_cluster, browsers):
    """A room is a channel: lines published from Flask-SSE, Flask-SocketIO's emitter and redis-cli
    appear in a browser on node B without a reload."""
    from selenium.webdriver.common.by import By

    name, _ = new_user(redis_cluster.a)
    wait_for_a_leader(redis_cluster, redis_cluster.a.token(name))
    room = "cluster-room"

    def line(sender, text):
        return {"channel": room, "from": sender, "text": text, "sent_at": time.time()}

    redis_cluster.redis.cli("PUBLISH", f"herald:channel:{room}", json.dumps({"name": "message", "data": line("cli", "opened")}))
    browser = browsers()
    log_in(browser, redis_cluster.b.base, name, "correct horse")

    def room_opened(driver):
        # The first line makes the room; until it is stored the page is a 404.
        driver.get(redis_cluster.b.base + f"/rooms/{room}")
        return any("opened" in item.text for item in driver.find_elements(By.ID, "room"))

    WebDriverWait(browser, 10, poll_frequency=0.2).until(room_opened)

    flask_sse = Flask("cluster-room-sse")
    flask_sse.config["REDIS_URL"] = redis_cluster.redis.url
    with flask_sse.app_context():
        sse.publish(line("flask-sse", "from Flask-SSE"), type="message", channel=room)
    SocketIO(message_queue=redis_cluster.redis.url).emit(
        "message", line("flask-socketio", "from Flask-SocketIO"), namespace="/notifications", to=room)
    redis_cluster.redis.cli("PUBLISH", f"herald:channel:{room}", json.dumps({"name": "message", "data": line("cli", "from redis-cli")}))

    def texts(driver):
        return [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#room li .text")]

    WebDriverWait(browser, 10, poll_frequency=0.05).until(
        lambda d: texts(d)[-3:] == ["from Flask-SSE", "from Flask-SocketIO", "from redis-cli"])
    assert texts(browser).count("opened") == 1


def test_postgresql_restarting_is_a_clear_503_and_service_resumes_by_itself(cluster, postgres):
    name, token = new_user(cluster.a)
    key = cluster.a.key()
    stream = Stream(cluster.b, token)
    publish(cluster.a, key, user=name, name="tick", data=1)
    postgres.stop()
    try:
        started = time.monotonic()
        response = requests.post(cluster.a.base + "/api/publish", json={"user": name, "name": "tick", "data": 2},
                                 headers={"Authorization": f"Bearer {key}"}, timeout=15)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "store_unavailable"
        assert time.monotonic() - started < 10
        ready = requests.get(cluster.a.base + "/readyz", timeout=15)
        assert ready.status_code == 503 and ready.json()["store"] == "unavailable"
    finally:
        postgres.start()
    deadline = time.monotonic() + 20
    while True:
        response = requests.post(cluster.a.base + "/api/publish", json={"user": name, "name": "tick", "data": 2},
                                 headers={"Authorization": f"Bearer {key}"}, timeout=15)
        if response.status_code == 201:
            break
        assert time.monotonic() < deadline, f"writes never resumed: {response.text}"
        time.sleep(0.2)
    wait_ready(cluster.a)
    wait_ready(cluster.b)
    try:
        # Nothing half-written: the refused publish left no seq behind; the next one is 2.
        assert response.json() == {"seq": 2}
        assert [(i, d) for i, _, d in events(stream, 2)] == [("1", 1), ("2", 2)]
    finally:
        stream.close()
