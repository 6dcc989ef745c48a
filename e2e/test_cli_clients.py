"""The terminal clients and the load generator, against a real server."""
import json
import subprocess
import threading
import time

import requests

from test_sse import Stream, new_user


def test_publish_and_subscribe_from_a_terminal(herald):
    name, token = new_user(herald)
    key = herald.key()
    subscriber = subprocess.Popen(
        [herald_bin(), "subscribe", "--url", herald.base, "--token", token, "--count", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    published = herald.cli("publish", "--url", herald.base, "--token", key, "--user", name, "--name", "build",
                           "--data", '{"status": "green"}')
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout) == {"seq": 1}
    herald.cli("publish", "--url", herald.base, "--token", key, "--user", name, "--name", "deploy", "--data", "2")
    out, err = subscriber.communicate(timeout=15)
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines == [{"event": "build", "data": {"status": "green"}, "id": "1"},
                     {"event": "deploy", "data": 2, "id": "2"}]

    # Resumable: from the first id, only the second event.
    resumed = herald.cli("subscribe", "--url", herald.base, "--token", token, "--since", "1", "--count", "1")
    assert [json.loads(line)["event"] for line in resumed.stdout.splitlines()] == ["deploy"]

    refused = herald.cli("publish", "--url", herald.base, "--token", token, "--user", "someone-else",
                         "--name", "x")
    assert refused.returncode != 0
    assert herald.cli("publish", "--url", herald.base, "--token", key, "--user", name, "--name", "x",
                      "--data", "{not json").returncode != 0


def test_bench_drives_herald_over_sse_and_websocket_with_nothing_lost(herald):
    name, token = new_user(herald)
    key = herald.key()
    herald.publish(channel="bench", name="open", data=0)
    common = ["--publish-url", herald.base + "/api/publish", "--publish-header", f"Authorization: Bearer {key}",
              "--publish-body", '{"channel":"bench","name":"tick","data":{"t":$TIME}}',
              "--connections", "120", "--events", "4", "--rate", "20", "--per-process", "50",
              "--server-pid", str(herald.process.pid), "--json"]
    for transport, extra in [
        ("sse", ["--subscribe-url", herald.base + "/api/events?channel=bench"]),
        ("ws", ["--subscribe-url", herald.base + "/ws", "--ws-message", '{"type":"subscribe","stream":"channel:bench"}']),
    ]:
        result = herald.cli("bench", "--transport", transport, "--subscribe-header", f"Authorization: Bearer {token}",
                            *extra, *common)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["connections"] == 120 and report["failedConnections"] == 0
        assert report["deliveries"] == 480 and report["lost"] == 0, report
        assert report["p50Milliseconds"] <= report["p99Milliseconds"] <= report["maxMilliseconds"]
        assert report["serverKilobytesPerConnection"] is not None
        # The server's CPU and write calls, read from /proc around each phase.
        assert report["serverConnectMicrosecondsPerConnection"] >= 0
        assert report["serverPublishMicrosecondsPerDelivery"] >= 0
        assert 0 < report["serverWriteCallsPerDelivery"] < 5, report
        assert report["repeated"] == 0


def test_bench_reconnect_storm_resumes_every_reader_by_its_last_event_id(herald):
    name, token = new_user(herald)
    key = herald.key()
    herald.publish(channel="storm", name="open", data=0)
    result = herald.cli(
        "bench", "--transport", "sse", "--subscribe-header", f"Authorization: Bearer {token}",
        "--subscribe-url", herald.base + "/api/events?channel=storm",
        "--publish-url", herald.base + "/api/publish", "--publish-header", f"Authorization: Bearer {key}",
        "--publish-body", '{"channel":"storm","name":"tick","data":{"t":$TIME}}',
        "--connections", "120", "--events", "3", "--rate", "0", "--per-process", "50",
        "--reconnect-storm", "7", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["deliveries"] == 360 and report["lost"] == 0
    storm = report["storm"]
    # Every reader came back and got exactly the 7 events it missed: a reader that resumed from
    # nothing would get none of them (a channel without a cursor starts live), one that resumed
    # from the start would get 10.
    assert storm["reconnected"] == 120 and storm["failed"] == 0, storm
    assert storm["missedEvents"] == 7 and storm["lost"] == 0 and storm["repeated"] == 0, storm
    assert 0 < storm["caughtUpSeconds"] < 30


def test_bench_says_so_when_nothing_connects_and_its_workers_exit_cleanly(herald):
    import socket
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = herald.cli("bench", "--transport", "sse", "--connections", "5", "--events", "1",
                        "--subscribe-url", closed + "/api/events", "--publish-url", closed + "/api/publish")
    assert result.returncode != 0
    assert "FAILED all connections" in result.stderr
    assert "Fatal error" not in result.stderr


def test_sigterm_ends_open_event_streams_and_exits_promptly(herald):
    name, token = new_user(herald)
    stream = Stream(herald, token)
    herald.publish(user=name, name="e", data=1)
    assert stream.next().data == "1"
    started = time.monotonic()
    assert herald.stop() == 0
    assert time.monotonic() - started < 10
    ended = []

    def drain():
        try:
            for _ in stream.events:
                pass
        except Exception:
            pass
        ended.append(True)

    reader = threading.Thread(target=drain)
    reader.start()
    reader.join(timeout=5)
    assert ended == [True]


def herald_bin():
    from conftest import HERALD_BIN
    return HERALD_BIN
