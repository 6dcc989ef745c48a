import Synchronization

/// An emit to many sockets of a namespace: those in the chosen rooms (all, if none is chosen),
/// minus those in the excluded rooms. The packet is encoded once for all of them; with an adapter
/// (`SocketIOServer.adapter`), the broadcast also reaches the other servers' sockets.
public struct SocketIOBroadcast: Sendable {
    let namespace: SocketIONamespace
    var rooms: Set<String> = []
    var excluded: Set<String> = []

    public func to(_ room: String) -> SocketIOBroadcast {
        var copy = self
        copy.rooms.insert(room)
        return copy
    }

    public func except(_ room: String) -> SocketIOBroadcast {
        var copy = self
        copy.excluded.insert(room)
        return copy
    }

    public func emit(_ event: String, _ arguments: JSONValue...) {
        emit(event, arguments: arguments)
    }

    public func emit(_ event: String, arguments: [JSONValue]) {
        emitLocally(event, arguments: arguments)
        guard let adapter = namespace.registry.adapter.withLock({ $0 }), !arguments.contains(where: \.containsBinary)
        else { return }
        adapter.publish(SocketIORemoteBroadcast(
            namespace: namespace.name, rooms: rooms.sorted(), excluded: excluded.sorted(), event: event, arguments: arguments))
    }

    /// To this server's sockets only: what a broadcast from another server does here.
    func emitLocally(_ event: String, arguments: [JSONValue]) {
        let packet = SocketPacket(.event, namespace: namespace.name, data: .array([.string(event)] + arguments))
        let messages = packet.encoded()
        for socket in namespace.sockets(in: rooms, except: excluded) { socket.send(encoded: messages) }
    }
}
