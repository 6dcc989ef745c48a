"""The limits that keep one client from holding what belongs to all: time to send a request,
idle connections, rate limits, sizes."""
import socket
import tempfile
import time

import pytest
import requests
from websockets.sync.client import connect

from conftest import Herald
from test_sse import new_user


@pytest.fixture(scope="module")
def strict():
    """Short timeouts, so the tests see them act."""
    herald = Herald(tempfile.mkdtemp(prefix="herald-limits-"), HERALD_REQUEST_HEAD_TIMEOUT_SECONDS="1",
                    HERALD_IDLE_TIMEOUT_SECONDS="2", HERALD_HEARTBEAT_SECONDS="1")
    herald.start()
    yield herald
    herald.stop()


def open_socket(herald):
    host, port = herald.base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_within(sock, seconds):
    """Reads until the server closes; returns what it sent and how long that took."""
    start, received = time.monotonic(), b""
    sock.settimeout(seconds)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s") from None
    except ConnectionResetError:
        pass
    return received, time.monotonic() - start


@pytest.mark.parametrize("sent", [b"", b"GET /api/ev", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n",
                                  b"GET /api/events HTTP/1.1\r\nHost: x\r\n"])
def test_a_connection_that_does_not_finish_its_request_head_is_closed(strict, sent):
    sock = open_socket(strict)
    sock.sendall(sent)
    received, elapsed = closed_within(sock, 8)
    assert received == b"" and elapsed < 8


def test_a_kept_alive_connection_left_idle_is_closed(strict):
    sock = open_socket(strict)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    received, elapsed = closed_within(sock, 10)
    assert received.startswith(b"HTTP/1.1 200") and 1.5 < elapsed < 10


def test_held_streams_outlive_the_timeouts(strict):
    name, token = new_user(strict)
    auth = {"Authorization": f"Bearer {token}"}
    # SSE as a connection's first request (Herald's lean path) and as a kept-alive connection's
    # second (Hummingbird's); a WebSocket; a long-poll held longer than the idle timeout.
    lean = requests.get(strict.base + "/api/events", headers=auth, stream=True, timeout=(5, 10))
    session = requests.Session()
    assert session.get(strict.base + "/healthz", timeout=5).status_code == 200
    kept = session.get(strict.base + "/api/events", headers=auth, stream=True, timeout=(5, 10))
    ws = connect(strict.base.replace("http://", "ws://") + "/ws", additional_headers=auth, open_timeout=5).__enter__()
    try:
        started = time.monotonic()
        poll = requests.get(strict.base + "/api/notifications?since=0&wait=4", headers=auth, timeout=10)
        assert poll.status_code == 200 and poll.json() == [] and time.monotonic() - started >= 3.5
        for stream in (lean, kept):
            lines = stream.iter_lines()
            assert next(lines).startswith(b"retry:")
            assert any(line.startswith(b":") for line, _ in zip(lines, range(10)))  # heartbeats, still coming
        strict.publish(user=name, name="late", data=1, mode="append")
        ws.send('{"id": 1, "type": "subscribe", "stream": "user", "since": 0}')
        assert '"late"' in "".join(ws.recv(timeout=5) for _ in range(2))
    finally:
        lean.close()
        kept.close()
        ws.__exit__(None, None, None)
