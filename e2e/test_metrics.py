"""`GET /metrics` as Prometheus scrapes it, while real clients hold connections on every transport."""
import re
import threading
import time

import requests
import socketio

from test_sse import Stream, new_user
from test_websocket import Client


def scrape(herald):
    response = requests.get(herald.base + "/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def eventually(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_connections_deliveries_and_requests_by_transport(herald):
    name, token = new_user(herald)
    before = scrape(herald)
    sse = Stream(herald, token)
    ws = Client(herald, token)
    assert ws.call(type="subscribe", stream="user")["type"] == "ack"
    sio = socketio.Client(reconnection=False)
    received = threading.Event()
    sio.on("build", lambda *args: received.set(), namespace="/notifications")
    sio.connect(herald.base, namespaces=["/notifications"], auth={"token": token}, transports=["websocket"],
                wait_timeout=5)
    try:
        def connected():
            samples = scrape(herald)
            assert samples['herald_connections{transport="sse"}'] == 1
            assert samples['herald_connections{transport="ws"}'] == 1
            assert samples['herald_connections{transport="socketio_websocket"}'] == 1
            return samples
        eventually(connected)
        for i in range(3):
            herald.publish(user=name, name="build", data={"n": i}, mode="append")
        assert sse.next().event == "build"
        assert received.wait(5)

        def delivered():
            samples = scrape(herald)
            for transport in ("sse", "ws", "socketio"):
                key = f'herald_deliveries_total{{transport="{transport}"}}'
                assert samples[key] - before.get(key, 0) == 3, transport
                assert samples[f'herald_delivered_bytes_total{{transport="{transport}"}}'] > 0
            return samples
        samples = eventually(delivered)
        assert samples['herald_publishes_total{kind="publish"}'] - before.get('herald_publishes_total{kind="publish"}', 0) == 3
        assert samples["herald_store_write_seconds_count"] >= 3
        published = [value for key, value in samples.items()
                     if key.startswith('hb_requests{http_route="/api/publish"') and 'status_code="201"' in key]
        assert published and published[0] >= 3
    finally:
        sse.close()
        ws.close()
        sio.disconnect()

    def gone():
        samples = scrape(herald)
        for transport in ("sse", "ws", "socketio_websocket"):
            assert samples[f'herald_connections{{transport="{transport}"}}'] == 0, transport
    eventually(gone)


def test_a_held_long_poll_is_counted_while_it_waits(herald):
    name, token = new_user(herald)
    herald.publish(user=name, name="first", data=1, mode="append")
    done = threading.Event()

    def wait():
        requests.get(herald.base + "/api/notifications?since=1&wait=10",
                     headers={"Authorization": f"Bearer {token}"}, timeout=15)
        done.set()
    threading.Thread(target=wait, daemon=True).start()
    eventually(lambda: _assert(scrape(herald)['herald_connections{transport="longpoll"}'] == 1))
    herald.publish(user=name, name="second", data=2, mode="append")
    assert done.wait(5)
    eventually(lambda: _assert(scrape(herald)['herald_connections{transport="longpoll"}'] == 0))


def test_the_exposition_names_no_secret(herald):
    name, token = new_user(herald)
    requests.get(herald.base + "/api/notifications", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    text = requests.get(herald.base + "/metrics", timeout=5).text
    assert token not in text and herald.key() not in text
    assert not re.search(r"hrd_|hrk_", text)


def _assert(condition):
    assert condition
