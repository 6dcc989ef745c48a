/// Where a server's broadcasts go besides its own sockets: the other servers of a cluster, each
/// of which hands what it hears to `SocketIOServer.deliver(_:)`. The one seam between Socket.IO
/// and whatever connects the servers (Herald's cluster bus, in multi-node mode), as
/// python-socketio's client managers are.
///
/// A broadcast reaches the sockets of every server in its rooms, minus those in its excluded rooms,
/// a socket's own room (its sid) included, so an emit to a sid reaches it wherever it is connected.
public protocol SocketIOAdapter: Sendable {
    /// Called once per broadcast, after this server's own sockets got it.
    func publish(_ broadcast: SocketIORemoteBroadcast)
}

/// A broadcast as it travels to the other servers: a JSON event with no binary attachments (those
/// stay on the server that emits them).
public struct SocketIORemoteBroadcast: Sendable, Equatable {
    public var namespace: String
    public var rooms: [String]
    public var excluded: [String]
    public var event: String
    public var arguments: [JSONValue]

    public init(namespace: String, rooms: [String], excluded: [String], event: String, arguments: [JSONValue]) {
        self.namespace = namespace
        self.rooms = rooms
        self.excluded = excluded
        self.event = event
        self.arguments = arguments
    }
}
