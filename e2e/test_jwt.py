"""Connection tokens (JWTs) another backend signs: HS256 made with hmac, RS256 with the openssl CLI.
Every token and key made here is noted, so test_logs.py checks none reaches a log."""
import base64
import hashlib
import hmac
import json
import os
import queue
import secrets
import subprocess
import tempfile
import time

import pytest
import requests
import socketio
import sseclient
from websockets.sync.client import connect

from conftest import HERALD_BIN, running_herald, note_secret

SECRET = note_secret("jwt-e2e-" + secrets.token_hex(24))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims, secret=SECRET, alg="HS256", sign=None):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    if alg == "none":
        signature = ""
    elif sign:
        signature = b64(sign(head.encode()))
    else:
        signature = b64(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest())
    return note_secret(head + "." + signature)


def claims(sub, **extra):
    return {"sub": sub, "exp": int(time.time()) + 600, **extra}


@pytest.fixture(scope="module")
def jwt_herald():
    with running_herald("herald-e2e-", HERALD_JWT_SECRET=SECRET) as server:
        yield server


def error_code(response):
    return response.json()["error"]["code"]


def test_sse_with_query_token_receives_publishes(jwt_herald):
    token = make_jwt(claims("ext_sse"))
    response = requests.get(jwt_herald.base + "/api/events", params={"token": token}, stream=True, timeout=(5, 10))
    assert response.status_code == 200, response.text
    events = sseclient.SSEClient(response).events()
    jwt_herald.publish(user="ext_sse", name="build", data={"n": 1})
    event = next(events)
    assert event.event == "build" and json.loads(event.data) == {"n": 1}
    response.close()


def test_long_poll_with_bearer(jwt_herald):
    token = make_jwt(claims("ext_poll"))
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(jwt_herald.base + "/api/notifications?since=0", headers=headers, timeout=10).json() == []
    jwt_herald.publish(user="ext_poll", name="ping", data=7)
    found = requests.get(jwt_herald.base + "/api/notifications?since=0", headers=headers, timeout=10).json()
    assert [(n["name"], n["data"]) for n in found] == [("ping", 7)]
    # A JWT reads; it writes nothing and is no account for pages.
    sent = requests.post(jwt_herald.base + "/api/messages", json={"to": "x", "body": "hi"}, headers=headers, timeout=10)
    assert sent.status_code == 403 and error_code(sent) == "read_only_token"


def test_ws_auth_frame(jwt_herald):
    token = make_jwt(claims("ext_ws"))
    ws_url = jwt_herald.base.replace("http://", "ws://") + "/ws"
    with connect(ws_url, open_timeout=5) as ws:
        ws.send(json.dumps({"id": 1, "type": "auth", "token": token}))
        assert json.loads(ws.recv(timeout=5))["type"] == "ack"
        ws.send(json.dumps({"id": 2, "type": "subscribe", "stream": "user"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "ack"
        jwt_herald.publish(user="ext_ws", name="hello", data="there")
        event = json.loads(ws.recv(timeout=5))
        assert (event["type"], event["name"], event["data"]) == ("event", "hello", "there")
        ws.send(json.dumps({"id": 3, "type": "publish", "channel": "lobby", "name": "x", "data": 1}))
        assert json.loads(ws.recv(timeout=5))["code"] == "read_only_token"
    with connect(ws_url, open_timeout=5) as ws:
        ws.send(json.dumps({"id": 1, "type": "auth", "token": make_jwt(claims("ext_ws"), secret="x" * 40)}))
        assert json.loads(ws.recv(timeout=5))["code"] == "invalid_signature"


def test_socketio_auth_token(jwt_herald):
    token = make_jwt(claims("ext_sio"))
    inbox = queue.Queue()
    client = socketio.Client(reconnection=False)
    client.on("news", lambda *args: inbox.put(args[0]), namespace="/notifications")
    client.connect(jwt_herald.base, namespaces=["/notifications"], auth={"token": token}, wait_timeout=5)
    try:
        jwt_herald.publish(user="ext_sio", name="news", data={"a": 1})
        assert inbox.get(timeout=5) == {"a": 1}
    finally:
        client.disconnect()


def test_members_only_channel_needs_the_claim(jwt_herald):
    response = requests.post(jwt_herald.base + "/api/channels", json={"name": "vip", "visibility": "members", "members": []},
                             headers={"Authorization": f"Bearer {jwt_herald.key()}"}, timeout=10)
    assert response.status_code in (201, 200), response.text
    without = make_jwt(claims("ext_chan"))
    refused = requests.get(jwt_herald.base + "/api/events", params={"token": without, "channel": "vip"}, timeout=10)
    assert refused.status_code == 403 and error_code(refused) == "channel_not_granted"
    with_claim = make_jwt(claims("ext_chan", channels=["vip"]))
    response = requests.get(jwt_herald.base + "/api/events", params={"token": with_claim, "channel": "vip"},
                            stream=True, timeout=(5, 10))
    assert response.status_code == 200
    events = sseclient.SSEClient(response).events()
    jwt_herald.publish(channel="vip", name="secret_news", data=1)
    assert next(events).event == "secret_news"
    response.close()
    # Socket.IO refuses the uncovered channel at connect.
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(jwt_herald.base, namespaces=["/notifications"], auth={"token": without, "offset": "0;vip=0"},
                       wait_timeout=5)


@pytest.mark.parametrize("kind,code", [
    ("expired", "token_expired"), ("none", "invalid_token"), ("wrong_key", "invalid_signature"),
    ("garbage", "invalid_token"), ("no_exp", "invalid_token"), ("bad_sub", "invalid_token"),
    ("huge", "invalid_token"),
])
def test_bad_tokens_are_401(jwt_herald, kind, code):
    token = {
        "expired": lambda: make_jwt({"sub": "ext_bad", "exp": int(time.time()) - 5}),
        "none": lambda: make_jwt(claims("ext_bad"), alg="none"),
        "wrong_key": lambda: make_jwt(claims("ext_bad"), secret="not-the-key-" + "y" * 32),
        "garbage": lambda: note_secret("abc.def.ghi"),
        "no_exp": lambda: make_jwt({"sub": "ext_bad"}),
        "bad_sub": lambda: make_jwt(claims("x")),
        "huge": lambda: make_jwt(claims("ext_bad", pad="z" * 10000)),
    }[kind]()
    for path in ("/api/notifications", "/api/events"):
        response = requests.get(jwt_herald.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 401, (path, response.text)
        assert error_code(response) == code, (path, response.text)


def test_rs256_public_key():
    folder = tempfile.mkdtemp(prefix="herald-e2e-jwt-")
    private, public = os.path.join(folder, "key.pem"), os.path.join(folder, "pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", private],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", public], check=True, capture_output=True)

    def sign(data):
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", private], input=data, check=True,
                              capture_output=True).stdout

    with running_herald("herald-e2e-", HERALD_JWT_PUBLIC_KEY=public) as server:
        token = make_jwt(claims("ext_rsa"), alg="RS256", sign=sign)
        response = requests.get(server.base + "/api/notifications?since=0", headers={"Authorization": f"Bearer {token}"},
                                timeout=10)
        assert response.status_code == 200, response.text
        hs = make_jwt(claims("ext_rsa"))
        response = requests.get(server.base + "/api/notifications", headers={"Authorization": f"Bearer {hs}"}, timeout=10)
        assert response.status_code == 401 and error_code(response) == "invalid_token"


def test_jwt_without_key_and_bad_settings(herald):
    token = make_jwt(claims("ext_nokey"))
    response = requests.get(herald.base + "/api/notifications", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 401 and error_code(response) == "jwt_not_configured"
    both = herald.cli("config", "check", "--jwt-secret", SECRET, "--jwt-public-key", "/nonexistent.pem")
    assert both.returncode != 0 and "not both" in both.stderr
    folder = tempfile.mkdtemp(prefix="herald-e2e-jwt-")
    bad = os.path.join(folder, "bad.pem")
    with open(bad, "w") as f:
        f.write("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    result = subprocess.run([HERALD_BIN, "serve", "--port", "0",
                             "--jwt-public-key", bad], env=herald.env(), capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "neither an RSA nor an EC P-256" in result.stderr


def test_held_connections_end_when_the_token_expires(jwt_herald):
    token = make_jwt({"sub": "ext_short", "exp": int(time.time()) + 2})
    response = requests.get(jwt_herald.base + "/api/events", params={"token": token}, stream=True, timeout=(5, 10))
    assert response.status_code == 200
    started = time.monotonic()
    try:
        for _ in response.iter_content(chunk_size=None):
            pass  # heartbeats and the retry hint, until the server closes the stream
    except requests.exceptions.ChunkedEncodingError:
        pass  # cut, not ended: the connection is closed
    assert time.monotonic() - started < 8
    ws_url = jwt_herald.base.replace("http://", "ws://") + "/ws"
    with connect(ws_url, open_timeout=5) as ws:
        ws.send(json.dumps({"id": 1, "type": "auth", "token": make_jwt({"sub": "ext_short", "exp": int(time.time()) + 2})}))
        assert json.loads(ws.recv(timeout=5))["type"] == "ack"
        with pytest.raises(Exception):
            while True:
                ws.recv(timeout=8)
