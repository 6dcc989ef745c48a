"""The Redis bus's own ceiling: bus messages PUBLISHed as fast as Redis takes them (pipelined, as
another node would send them, one event each, whole), and how fast node B hands them to an SSE
reader of the channel. No database on the way: B delivers bus events without reading it.

    python3 bench/bus-ceiling.py NODE_URL TOKEN REDIS_PORT CHANNEL NEXT_SEQ [EVENTS]

NEXT_SEQ is the channel's next seq (its last + 1), so B sees the events continue the stream."""
import json
import socket
import sys
import threading
import time

node, token, redis_port, channel, next_seq = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
events = int(sys.argv[6]) if len(sys.argv) > 6 else 50_000
host, port = node.removeprefix("http://").split(":")

reader = socket.create_connection((host, int(port)))
reader.sendall(f"GET /api/events?channel={channel} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
               "Accept: text/event-stream\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    head += reader.recv(4096)
assert b" 200 " in head.split(b"\r\n")[0], head
time.sleep(0.5)

received = {"count": 0, "last": 0.0}


def read():
    pending = b""
    while received["count"] < events:
        chunk = reader.recv(1 << 20)
        if not chunk:
            break
        pending += chunk
        # Each event is one `data:` line; count them without parsing.
        received["count"] += pending.count(b"\ndata:")
        pending = pending[pending.rfind(b"\n"):]
    received["last"] = time.monotonic()


thread = threading.Thread(target=read, daemon=True)
thread.start()


def command(*args):
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


publisher = socket.create_connection(("127.0.0.1", redis_port))
batch = []
for n in range(events):
    message = {"v": 1, "node": "benchnode1", "events": [{
        "stream": f"channel:{channel}", "seq": next_seq + n, "id": next_seq + n, "name": "tick",
        "mode": "append", "data": json.dumps({"n": n}), "ts": time.time()}]}
    batch.append(command("PUBLISH", "herald:bus", json.dumps(message, separators=(",", ":"))))
payload = b"".join(batch)
started = time.monotonic()
publisher.sendall(payload)
replies = b""
while replies.count(b"\r\n") < events:
    replies += publisher.recv(1 << 20)
published = time.monotonic()
thread.join(timeout=60)
elapsed = received["last"] - started
print(f"published  {events} bus messages in {published - started:.3f} s ({events / (published - started):,.0f}/s into Redis)")
print(f"received   {received['count']} of {events} on node B in {elapsed:.3f} s ({received['count'] / elapsed:,.0f} events/s)")
