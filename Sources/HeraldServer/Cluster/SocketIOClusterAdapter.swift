import HeraldCore
import SocketIO

/// Socket.IO across nodes: broadcasts made on one node (to a room, a namespace, all but a sid)
/// travel on the cluster bus, and each node hands the others' to its own sockets.
///
/// On the bus a broadcast is `{"ns", "rooms", "except", "event", "args"}`, the arguments as
/// Socket.IO's own JSON.
struct SocketIOClusterAdapter: SocketIOAdapter {
    let bus: ClusterBus

    /// Joins the server to the cluster: its broadcasts go out, the other nodes' come in.
    static func connect(_ server: SocketIOServer, to bus: ClusterBus) {
        server.adapter = SocketIOClusterAdapter(bus: bus)
        bus.onSocketIO { [weak server] text in
            guard let broadcast = decode(text) else { return }
            server?.deliver(broadcast)
        }
    }

    func publish(_ broadcast: SocketIORemoteBroadcast) {
        let message: JSONValue = .object([
            (key: "ns", value: .string(broadcast.namespace)),
            (key: "rooms", value: .array(broadcast.rooms.map(JSONValue.string))),
            (key: "except", value: .array(broadcast.excluded.map(JSONValue.string))),
            (key: "event", value: .string(broadcast.event)),
            (key: "args", value: .array(broadcast.arguments)),
        ])
        bus.broadcast(socketIO: message.description)
    }

    static func decode(_ text: String) -> SocketIORemoteBroadcast? {
        guard let message = JSONValue(parsing: Substring(text)),
            let namespace = message["ns"]?.stringValue, let event = message["event"]?.stringValue,
            let rooms = message["rooms"]?.arrayValue?.compactMap(\.stringValue),
            let excluded = message["except"]?.arrayValue?.compactMap(\.stringValue),
            let arguments = message["args"]?.arrayValue
        else { return nil }
        return SocketIORemoteBroadcast(namespace: namespace, rooms: rooms, excluded: excluded, event: event, arguments: arguments)
    }
}
