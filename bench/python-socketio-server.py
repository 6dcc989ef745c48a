"""The peer of `herald bench --transport socketio`: python-socketio, the engine under Flask-SocketIO,
in its fastest async mode here (aiohttp). Subscribers connect to the namespace /bench and join the
room `bench`; `POST /publish` with a JSON body emits it to the room as event `tick`.
Usage: python python-socketio-server.py PORT"""
import inspect
import sys

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)


@sio.on("connect", namespace="/bench")
async def connect(sid, environ, auth=None):
    entered = sio.enter_room(sid, "bench", namespace="/bench")
    if inspect.isawaitable(entered):
        await entered


async def publish(request):
    await sio.emit("tick", await request.json(), room="bench", namespace="/bench")
    return web.json_response({"ok": True}, status=201)


app.router.add_post("/publish", publish)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
