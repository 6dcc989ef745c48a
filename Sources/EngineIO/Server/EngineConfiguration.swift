/// How an Engine.IO server behaves. The defaults are the reference server's.
public struct EngineConfiguration: Sendable {
    /// Where the engine is mounted: `/socket.io/` for Socket.IO, `/engine.io/` for a bare engine.
    public var path = "/socket.io/"
    /// How often the server pings, and how long it waits for the pong before closing the session.
    public var pingInterval: Duration = .seconds(25)
    public var pingTimeout: Duration = .seconds(20)
    /// The largest payload (a polling body, or one WebSocket message) accepted, in bytes.
    public var maxPayload = 1_000_000
    /// `Access-Control-Allow-Origin` for polling responses: nil sends no CORS headers (same-origin
    /// use), `"*"` allows any page without credentials.
    public var allowedOrigin: String?
    /// Whether a polling session may upgrade to WebSocket.
    public var allowUpgrades = true
    /// What every session id of this server starts with: in a cluster, the node's tag, so any
    /// node can tell which one holds a session.
    public var sessionIDPrefix = ""

    public init() {}

    var pingIntervalMilliseconds: Int64 { Self.milliseconds(pingInterval) }
    var pingTimeoutMilliseconds: Int64 { Self.milliseconds(pingTimeout) }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
