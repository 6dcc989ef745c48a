import SocketIO

/// `/test`, the namespace of Flask-SocketIO's example page (`/socketio-demo`): each connection is
/// greeted with `my_response {"data": "Connected"}`, and `my_event` is answered with
/// `my_response` carrying the same data, binary included.
struct DemoNamespace: SocketIONamespaceHandler {
    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async throws {
        socket.emit("my_response", ["data": "Connected"])
    }

    func handler(for event: String) -> SocketIOEventHandler? {
        switch event {
        case "my_event": myEvent
        case "my_broadcast_event": myBroadcastEvent
        default: nil
        }
    }

    func myEvent(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        socket.emit("my_response", ["data": arguments.first?["data"] ?? arguments.first ?? nil])
        return []
    }

    func myBroadcastEvent(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        socket.namespace.emit("my_response", ["data": arguments.first?["data"] ?? arguments.first ?? nil])
        return []
    }
}
