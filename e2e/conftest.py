"""Fixtures that run the real `herald` binary on a free port with a fresh data directory."""
import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.join(os.path.dirname(__file__), "..")
# Every Herald process of the run logs here (at debug level, the most it says), and every secret the
# run makes is noted, so that the last test can look for each one in every log (test_logs.py).
LOG_DIR = tempfile.mkdtemp(prefix="herald-e2e-logs-")
SECRETS = set()


def note_secret(value):
    if value and len(value) >= 8:
        SECRETS.add(value)
    return value


def log_file(name="herald"):
    return open(os.path.join(LOG_DIR, f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"), "ab")


_send = requests.Session.send


def _send_noting_cookies(session, request, **kwargs):
    """Session cookies are secrets too: every one Herald hands out is noted."""
    response = _send(session, request, **kwargs)
    for cookie in response.cookies:
        note_secret(cookie.value)
    return response


requests.Session.send = _send_noting_cookies
HERALD_BIN = os.environ.get("HERALD_BIN", os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "herald"))


class Herald:
    """One Herald process, restartable on the same data directory."""

    def __init__(self, data_dir, **settings):
        self.data_dir = data_dir
        self.settings = settings
        self.process = None
        self.base = None
        self._key = None

    def env(self):
        return dict(os.environ, HERALD_BCRYPT_COST="4", HERALD_DATA_DIR=self.data_dir, HERALD_LOG_LEVEL="debug",
                    **self.settings)

    def start(self):
        with log_file() as log:
            self.process = subprocess.Popen(
                [HERALD_BIN, "serve", "--port", "0"], env=self.env(),
                stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, f"herald did not report its address: {line!r}"
        self.base = match.group(1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError("herald never became healthy")

    def stop(self):
        """SIGTERM, as a service manager would; returns the exit code."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise AssertionError("herald did not shut down within 15 s of SIGTERM")
        return self.process.returncode if self.process else None

    def cli(self, *args):
        """Runs an administration command on the same data directory."""
        return subprocess.run([HERALD_BIN, *args], env=self.env(), capture_output=True, text=True, timeout=60)

    def add_user(self, name, password="correct horse"):
        result = self.cli("users", "add", name, "--password", note_secret(password))
        assert result.returncode == 0, result.stderr
        return name, password

    def token(self, name):
        result = self.cli("tokens", "create", name)
        assert result.returncode == 0, result.stderr
        return note_secret(result.stdout.strip())

    def key(self):
        """A server API key, made once per server."""
        if self._key is None:
            result = self.cli("keys", "create")
            assert result.returncode == 0, result.stderr
            self._key = note_secret(result.stdout.strip())
        return self._key

    def publish(self, **body):
        response = requests.post(self.base + "/api/publish", json=body,
                                 headers={"Authorization": f"Bearer {self.key()}"}, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    def add_members_channel(self, name, members):
        """A members-only channel, made new through the API with the server key."""
        response = requests.post(self.base + "/api/channels",
                                 json={"name": name, "visibility": "members", "members": list(members)},
                                 headers={"Authorization": f"Bearer {self.key()}"}, timeout=10)
        assert response.status_code == 201, response.text

    def connect_while_publishing(self, channel, connect, total=150):
        """Publishes `total` events (data 0, 1, …) to a new `channel` from a thread while readers
        connect one after another through `connect(cursor)`, each from a seq already published
        (the first, data -1, is published before), then one last event (data "end") once all are
        connected: the next thing each reader gets after the events past its cursor.
        Returns (the first seq, the last seq, [(cursor, reader)])."""
        import threading
        first = self.publish(channel=channel, name="e", data=-1)["seq"]
        seqs, lock = [first], threading.Lock()

        def publish():
            for n in range(total):
                seq = self.publish(channel=channel, name="e", data=n, mode="append")["seq"]
                with lock:
                    seqs.append(seq)

        publisher = threading.Thread(target=publish)
        publisher.start()
        readers = []
        while publisher.is_alive() or not readers:
            with lock:
                cursor = seqs[len(readers) * 7 % len(seqs)]
            readers.append((cursor, connect(cursor)))
        publisher.join()
        assert seqs == list(range(first, first + total + 1))
        end = self.publish(channel=channel, name="end", data="end")["seq"]
        return first, end, readers

    def rss_kb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")


@contextlib.contextmanager
def running_herald(prefix="herald-e2e-", **settings):
    """A Herald on a fresh data directory for the length of a `with` block, stopped however it ends."""
    server = Herald(tempfile.mkdtemp(prefix=prefix), **settings)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def herald():
    with running_herald("herald-e2e-") as server:
        yield server


@pytest.fixture(scope="module")
def shared_herald():
    """One server for a whole module, for tests that make many independent users."""
    with running_herald("herald-e2e-", HERALD_RETENTION_COUNT="100000") as server:
        yield server


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on a free loopback port (installed by scripts/install-test-deps)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.cli("PING") != "PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return self

    def stop(self):
        self.process.kill()
        self.process.wait(timeout=10)

    def cli(self, *args):
        result = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        return result.stdout.strip()

    def subscribers(self, channel):
        return int(self.cli("PUBSUB", "NUMSUB", channel).split()[-1])


class PostgresServer:
    """A throwaway PostgreSQL (scripts/throwaway-postgres), stoppable and restartable on its port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="herald-e2e-postgres-")
        self.port = None

    def script(self, *args):
        result = subprocess.run([os.path.join(ROOT, "scripts", "throwaway-postgres"), *args],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def start(self):
        url = self.script("start", self.dir, *([str(self.port)] if self.port else []))
        self.port = int(url.split(":")[-1].split("/")[0])
        return self

    def stop(self):
        self.script("stop", self.dir)

    def database(self, name):
        """A new, empty database; its URL."""
        result = subprocess.run(["psql", self.url("postgres"), "-qc", f"CREATE DATABASE {name}"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return self.url(name)

    def url(self, database):
        return f"postgres://herald@127.0.0.1:{self.port}/{database}?sslmode=disable"


def pytest_configure(config):
    config.addinivalue_line("markers", "last: runs after every other test (it reads what they left)")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
