"""The binary as scripts use it: administration commands, the JSON API, long-polling, restarts."""
import re
import threading
import time

import requests


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_admin_commands_print_only_the_secret(herald):
    result = herald.cli("users", "add", "alice", "--password", "correct horse")
    assert result.returncode == 0 and result.stdout == ""
    result = herald.cli("tokens", "create", "alice")
    assert result.returncode == 0
    assert re.fullmatch(r"hrd_[A-Za-z0-9_-]{43}\n", result.stdout)

    refused = herald.cli("users", "add", "alice", "--password", "correct horse")
    assert refused.returncode != 0 and "taken" in refused.stderr
    assert herald.cli("users", "add", "x", "--password", "correct horse").returncode != 0
    assert herald.cli("tokens", "create", "nobody").returncode != 0


def test_messages_survive_a_restart_of_the_server_process(herald):
    herald.add_user("alice")
    herald.add_user("bob")
    alice, bob = herald.token("alice"), herald.token("bob")
    sent = requests.post(herald.base + "/api/messages", json={"to": "bob", "body": "still here?"},
                         headers=bearer(alice), timeout=5)
    assert sent.status_code == 201, sent.text

    assert herald.stop() == 0
    herald.start()

    notes = requests.get(herald.base + "/api/notifications?since=0", headers=bearer(bob), timeout=5).json()
    assert [(n["name"], n["data"], n["seq"]) for n in notes] == [("unread_message_count", 1, 1)]
    inbox = requests.get(herald.base + "/api/messages", headers=bearer(bob), timeout=5).json()
    assert [m["body"] for m in inbox["messages"]] == ["still here?"]
    # The cursor continues where it was: the next notification gets seq 2, not 1 again.
    requests.post(herald.base + "/api/messages/read", headers=bearer(bob), timeout=5)
    notes = requests.get(herald.base + "/api/notifications?since=1", headers=bearer(bob), timeout=5).json()
    assert [(n["data"], n["seq"]) for n in notes] == [(0, 2)]


def test_long_poll_over_the_network_answers_when_a_message_arrives(herald):
    herald.add_user("alice")
    herald.add_user("bob")
    alice, bob = herald.token("alice"), herald.token("bob")
    result = {}

    def poll():
        started = time.monotonic()
        response = requests.get(herald.base + "/api/notifications?since=0&wait=30", headers=bearer(bob), timeout=40)
        result["elapsed"] = time.monotonic() - started
        result["body"] = response.json()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    requests.post(herald.base + "/api/messages", json={"to": "bob", "body": "ping"}, headers=bearer(alice), timeout=5)
    thread.join(timeout=40)
    assert [(n["name"], n["data"]) for n in result["body"]] == [("unread_message_count", 1)]
    assert result["elapsed"] < 25, "the long-poll waited for its deadline instead of waking up"


def test_bad_input_gets_clear_json_errors_and_the_server_stays_up(herald):
    herald.add_user("alice")
    token = herald.token("alice")
    url = herald.base + "/api/messages"
    cases = [
        (b"{", 400, "invalid_json"),
        (b'{"to": 1, "body": "x"}', 422, "invalid_field"),
        (b'{"to": "nobody", "body": "x"}', 404, "unknown_user"),
        (b"\xff\xfe garbage", 400, "invalid_json"),
        (b"x" * 200_000, 413, "body_too_large"),
    ]
    for body, status, code in cases:
        response = requests.post(url, data=body, headers={**bearer(token), "Content-Type": "application/json"},
                                 timeout=5)
        assert response.status_code == status, (body[:20], response.text)
        assert response.json()["error"]["code"] == code
    assert requests.get(herald.base + "/healthz", timeout=5).status_code == 200


def test_sigterm_ends_held_long_polls_and_exits_promptly(herald):
    herald.add_user("bob")
    bob = herald.token("bob")
    result = {}

    def poll():
        response = requests.get(herald.base + "/api/notifications?since=0&wait=60", headers=bearer(bob), timeout=70)
        result["body"] = response.json()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    assert herald.stop() == 0
    assert time.monotonic() - started < 10
    thread.join(timeout=10)
    assert result.get("body") == []


def test_sigterm_does_not_wait_for_connections_that_never_sent_a_request(herald):
    import socket
    idle = [socket.create_connection((herald.base.split("//")[1].split(":")[0], int(herald.base.rsplit(":", 1)[1])))
            for _ in range(3)]  # like a browser's preconnected sockets
    time.sleep(0.3)
    started = time.monotonic()
    assert herald.stop() == 0
    assert time.monotonic() - started < 10
    for sock in idle:
        sock.close()
