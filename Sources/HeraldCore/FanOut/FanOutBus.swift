/// What travels between the write path and the nodes that deliver: "stream S now has seq N".
///
/// Readers fetch the notifications themselves, so the bus carries cursors, not payloads: it stays
/// small enough for Redis and PostgreSQL NOTIFY, and a lost bus message costs latency, never data.
public struct StreamAdvance: Sendable, Equatable {
    public var stream: StreamName
    public var seq: Int64

    public init(stream: StreamName, seq: Int64) {
        self.stream = stream
        self.seq = seq
    }
}

/// Carries stream advances from the node that wrote them to every node's hub.
/// The in-process bus is the embedded default; Redis and PostgreSQL buses connect many nodes.
public protocol FanOutBus: Sendable {
    func publish(_ advance: StreamAdvance) async
}

/// The single-node bus: hands every advance straight to the local hub.
public struct InProcessBus: FanOutBus {
    let hub: StreamHub

    public init(hub: StreamHub) {
        self.hub = hub
    }

    public func publish(_ advance: StreamAdvance) async {
        hub.deliver(advance)
    }
}
