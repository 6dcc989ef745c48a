"""The configuration as an operator meets it: one file, the environment and flags, checked by
`herald config check` and honoured by `herald serve` and the administration commands."""
import json
import os
import re
import subprocess

import requests

from conftest import HERALD_BIN


def run(*args, env=None, timeout=30):
    return subprocess.run([HERALD_BIN, *args], env=dict(os.environ, **(env or {})), capture_output=True,
                          text=True, timeout=timeout)


def test_config_check_prints_the_effective_configuration_with_secrets_masked(tmp_path):
    config = tmp_path / "herald.json"
    config.write_text(json.dumps({"port": 9001, "retention": {"count": 9},
                                  "database": {"url": "postgres://herald:s3cr3t-pw@db:5432/herald"}}))
    result = run("config", "check", "--config", str(config), "--port", "9002",
                 env={"HERALD_CLUSTER_SECRET": "cluster-s3cr3t", "HERALD_HEARTBEAT_SECONDS": "4"})
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert re.search(r"\b9002\b.*\(flag --port\)", lines["port"])
    assert re.search(r"\b9\b.*\(file\)", lines["retention.count"])
    assert re.search(r"\b4\b.*\(environment HERALD_HEARTBEAT_SECONDS\)", lines["heartbeat-seconds"])
    assert "s3cr3t" not in result.stdout + result.stderr
    assert "********" in lines["database.url"] and "********" in lines["cluster-secret"]


def test_config_check_refuses_unknown_keys_and_bad_values_naming_each(tmp_path):
    config = tmp_path / "herald.yaml"
    config.write_text("port: 8080\nretention:\n  cuont: 5\nheartbeat-seconds: often\n")
    result = run("config", "check", "--config", str(config), "--messages-per-pag", "3",
                 env={"HERALD_PORT": "eighty"})
    assert result.returncode == 1
    assert f"{config}: unknown key retention.cuont" in result.stderr
    assert "unknown option --messages-per-pag" in result.stderr
    assert "HERALD_PORT: not a valid integer" in result.stderr
    assert f"heartbeat-seconds in {config}: not a valid integer" in result.stderr


def test_serve_and_the_admin_commands_read_the_same_file(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "herald.json"
    config.write_text(json.dumps({"data-dir": str(data), "bcrypt-cost": 4, "port": 0,
                                  "message-max-length": 5}))
    env = {"HERALD_CONFIG": str(config)}
    assert run("users", "add", "alice", "--password", "correct horse", env=env).returncode == 0
    assert run("users", "add", "bob", "--password", "correct horse", env=env).returncode == 0
    token = run("tokens", "create", "alice", env=env).stdout.strip()
    process = subprocess.Popen([HERALD_BIN, "serve"], env=dict(os.environ, **env), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        base = re.search(r"listening on (http://\S+)", process.stdout.readline()).group(1)
        headers = {"Authorization": f"Bearer {token}"}
        too_long = requests.post(base + "/api/messages", json={"to": "bob", "body": "123456"}, headers=headers, timeout=5)
        assert too_long.status_code == 422, too_long.text
        assert requests.post(base + "/api/messages", json={"to": "bob", "body": "12345"}, headers=headers,
                             timeout=5).status_code == 201
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_serve_refuses_a_bad_setting_before_starting(tmp_path):
    result = run("serve", "--port", "70000", "--data-dir", str(tmp_path))
    assert result.returncode != 0
    assert "--port: 70000 is out of range: 0…65535" in result.stderr
