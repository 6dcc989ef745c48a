import EngineIO

/// How a Socket.IO server behaves: its engine, and how long a new connection may take to join a
/// namespace.
public struct SocketIOConfiguration: Sendable {
    public var engine = EngineConfiguration()
    /// A connection that has not sent a CONNECT packet by then is closed.
    public var connectTimeout: Duration = .seconds(45)
    /// How long `emitWithAck` waits when given no timeout.
    public var ackTimeout: Duration = .seconds(10)

    public init() {}
}
