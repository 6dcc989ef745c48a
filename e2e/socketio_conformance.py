"""Runs the `socketio-conformance` example (the compliance suites' reference configuration) and
speaks raw Engine.IO v4 / Socket.IO v5 to it: `requests` for long-polling, the `websockets` sync
client for WebSocket. Used by test_engineio_protocol.py and test_socketio_protocol.py.

Reference configuration: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000,
connectTimeout 1000 ms (Socket.IO), CORS `*`.
"""
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from urllib.parse import urlencode

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

CONFORMANCE_BIN = os.environ.get(
    "SOCKETIO_CONFORMANCE_BIN",
    os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "socketio-conformance"))

PING_INTERVAL = 0.300
PING_TIMEOUT = 0.200
MAX_PAYLOAD = 1_000_000
CONNECT_TIMEOUT = 1.000
RS = "\x1e"  # the record separator between packets of a polling payload

LISTENING = re.compile(r"socketio-conformance \((engine\.io|socket\.io)\) listening on port (\d+)")


def read_line(stream, timeout):
    """One line of `stream`, or None if none comes within `timeout` seconds."""
    lines = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


class ConformanceServer:
    """One `socketio-conformance --suite SUITE --port 0 --host 127.0.0.1` process."""

    def __init__(self, suite):
        self.suite = suite
        self.path = f"/{suite}/"
        self.process = None
        self.port = None
        self.stderr = tempfile.NamedTemporaryFile(prefix=f"socketio-conformance-{suite}-", suffix=".log")

    def command(self, line_buffered=True):
        command = [CONFORMANCE_BIN, "--suite", self.suite, "--port", "0", "--host", "127.0.0.1"]
        # The example prints its port with Swift's `print`, which a pipe holds in the C stdio
        # buffer until exit; `stdbuf -oL` makes it line buffered. test_engineio_protocol.py has
        # a test that runs it without stdbuf, so the buffering itself is still checked.
        if line_buffered and shutil.which("stdbuf"):
            command = ["stdbuf", "-oL", *command]
        return command

    def start(self):
        if not os.path.exists(CONFORMANCE_BIN):
            pytest.fail(f"no socketio-conformance binary at {CONFORMANCE_BIN} (set SOCKETIO_CONFORMANCE_BIN)")
        self.process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = read_line(self.process.stdout, 15)
        match = LISTENING.search(line or "")
        assert match and match.group(1) == self.suite, f"no listening line on stdout: {line!r}"
        self.port = int(match.group(2))
        return self

    @property
    def http(self):
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def ws(self):
        return f"ws://127.0.0.1:{self.port}{self.path}"

    def url(self, transport="polling", sid=None, eio="4", ws=False, **extra):
        """The endpoint with `EIO`, `transport` and `sid` (each left out when None)."""
        query = {}
        if eio is not None:
            query["EIO"] = eio
        if transport is not None:
            query["transport"] = transport
        if sid is not None:
            query["sid"] = sid
        query.update(extra)
        return (self.ws if ws else self.http) + "?" + urlencode(query)

    def log_tail(self, size=4000):
        self.stderr.flush()
        with open(self.stderr.name, "rb") as log:
            return log.read()[-size:].decode("utf-8", "replace")

    def assert_alive(self):
        code = self.process.poll()
        assert code is None, f"socketio-conformance exited with {code}; stderr tail:\n{self.log_tail()}"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.stderr.close()


def serve(suite):
    server = ConformanceServer(suite).start()
    try:
        yield server
        crashed = server.process.poll()
        assert crashed is None, f"socketio-conformance died during the module (exit {crashed}):\n{server.log_tail()}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def engineio_server():
    yield from serve("engine.io")


@pytest.fixture(scope="module")
def socketio_server():
    yield from serve("socket.io")


# --- HTTP long-polling -------------------------------------------------------------------------

def http():
    """A requests session that ignores proxy settings from the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


def get(url, timeout=5, **kwargs):
    with http() as session:
        return session.get(url, timeout=timeout, **kwargs)


def post(url, data, timeout=5, **kwargs):
    with http() as session:
        if isinstance(data, str):
            data = data.encode("utf-8")
            kwargs.setdefault("headers", {"Content-Type": "text/plain;charset=UTF-8"})
        return session.post(url, data=data, timeout=timeout, **kwargs)


def parse_open(body):
    """The JSON of an open packet `0{...}`: the body must be exactly that packet."""
    assert body.startswith("0"), body
    return json.loads(body[1:])


def assert_open_packet(body, upgrades):
    handshake = parse_open(body)
    assert list(handshake) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"], handshake
    assert isinstance(handshake["sid"], str) and handshake["sid"], handshake
    assert handshake["upgrades"] == upgrades
    for key, value in (("pingInterval", 300), ("pingTimeout", 200), ("maxPayload", 1000000)):
        assert type(handshake[key]) is int and handshake[key] == value, handshake
    return handshake


def polling_handshake(server):
    response = get(server.url())
    assert response.status_code == 200, (response.status_code, response.text)
    return assert_open_packet(response.text, ["websocket"])["sid"]


def assert_error(response, status, code, message):
    """An Engine.IO HTTP error: `status` with exactly `{"code":code,"message":message}`."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers.get("Content-Type", "").split(";")[0] == "application/json", response.headers
    expected = json.dumps({"code": code, "message": message}, separators=(",", ":"))
    assert response.text == expected, f"body {response.text[:300]!r}, expected {expected!r}"


def assert_session_gone(server, sid):
    assert_error(get(server.url(sid=sid)), 400, 1, "Session ID unknown")


class Poller:
    """One polling session that answers pings, so a test can take its time."""

    def __init__(self, server, sid=None):
        self.server = server
        self.sid = sid or polling_handshake(server)

    def post(self, body):
        response = post(self.server.url(sid=self.sid), body)
        assert (response.status_code, response.text) == (200, "ok")

    def get(self):
        """One GET; returns its packets with pings answered and removed."""
        response = get(self.server.url(sid=self.sid))
        assert response.status_code == 200, (response.status_code, response.text)
        packets = response.text.split(RS)
        if "2" in packets:
            self.post("3")
        return [packet for packet in packets if packet != "2"]

    def collect(self, count, deadline=3):
        """GETs until `count` non-ping packets have come."""
        packets = []
        end = time.monotonic() + deadline
        while len(packets) < count:
            assert time.monotonic() < end, f"only {packets!r} within {deadline} s"
            packets += self.get()
        assert len(packets) == count, packets
        return packets


# --- WebSocket ---------------------------------------------------------------------------------

CLOSED = object()


class Peer:
    """A WebSocket read by a background thread, so every frame and the close are timestamped.

    With `auto_pong`, each Engine.IO ping `2` is answered with `3` at once (still queued).
    """

    def __init__(self, url, auto_pong=False, **options):
        options.setdefault("open_timeout", 5)
        options.setdefault("ping_interval", None)
        options.setdefault("max_size", 2 ** 24)
        options.setdefault("proxy", None)
        options.setdefault("close_timeout", 1)
        self.ws = connect(url, **options).__enter__()  # entered, as the library asks; `close` leaves it
        self.opened_at = time.monotonic()
        self.auto_pong = auto_pong
        self.frames = queue.Queue()
        self.closed = threading.Event()
        self.closed_at = None
        self.close_code = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                message = self.ws.recv()
                if self.auto_pong and message == "2":
                    try:
                        self.ws.send("3")
                    except ConnectionClosed:
                        pass
                self.frames.put((time.monotonic(), message))
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
        except Exception:  # noqa: BLE001 - any read failure is a close for the test
            pass
        self.closed_at = time.monotonic()
        self.closed.set()
        self.frames.put((self.closed_at, CLOSED))

    def send(self, message, text=None):
        self.ws.send(message, text=text)

    def next(self, timeout=2):
        """The next frame (str for text, bytes for binary), pings included."""
        try:
            _, message = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no frame within {timeout} s") from None
        assert message is not CLOSED, f"closed (code {self.close_code}) while a frame was awaited"
        return message

    def next_non_ping(self, timeout=2):
        """The next frame that is not an Engine.IO ping; pings are answered unless auto_pong does."""
        end = time.monotonic() + timeout
        while True:
            message = self.next(max(0.01, end - time.monotonic()))
            if message != "2":
                return message
            if not self.auto_pong:
                self.send("3")

    def assert_silent(self, duration, allow_pings=True):
        """Nothing but pings (answered by auto_pong or here) for `duration` seconds, and still open."""
        end = time.monotonic() + duration
        while (left := end - time.monotonic()) > 0:
            try:
                _, message = self.frames.get(timeout=left)
            except queue.Empty:
                break
            assert message is not CLOSED, f"closed (code {self.close_code}) within {duration} s"
            assert allow_pings and message == "2", f"unexpected frame {message!r}"
            if not self.auto_pong:
                self.send("3")

    def wait_closed(self, timeout, since=None, allow=("2",)):
        """Waits for the close; returns seconds from `since` (default: now). Frames other than
        those in `allow` that come first fail the test."""
        start = time.monotonic() if since is None else since
        end = time.monotonic() + timeout
        while True:
            try:
                _, message = self.frames.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"still open {time.monotonic() - start:.3f} s later") from None
            if message is CLOSED:
                return self.closed_at - start
            assert message in allow, f"unexpected frame {message!r} before the close"

    def close(self):
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass
        self.thread.join(timeout=2)


def engine_ws(server, sid=None, auto_pong=False, **options):
    """A WebSocket session; for a fresh one (no sid), checks and consumes the open packet."""
    peer = Peer(server.url("websocket", sid=sid, ws=True), auto_pong=auto_pong, **options)
    if sid is None:
        first = peer.next()
        assert isinstance(first, str), first
        peer.sid = assert_open_packet(first, [])["sid"]
    else:
        peer.sid = sid
    return peer


def assert_ping_gap(since):
    """A ping came pingInterval (300 ms) after `since`, give or take scheduling on a busy machine."""
    gap = time.monotonic() - since
    assert 0.25 < gap < 0.5, f"the ping came {gap:.3f} s after the handshake or the previous pong"
