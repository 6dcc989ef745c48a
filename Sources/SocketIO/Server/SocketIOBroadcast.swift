/// An emit to many sockets of a namespace: those in the chosen rooms (all, if none is chosen),
/// minus those in the excluded rooms. The packet is encoded once for all of them.
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
        let packet = SocketPacket(.event, namespace: namespace.name, data: .array([.string(event)] + arguments))
        let messages = packet.encoded()
        for socket in namespace.sockets(in: rooms, except: excluded) { socket.send(encoded: messages) }
    }
}
