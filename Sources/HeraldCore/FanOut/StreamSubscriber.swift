import NIOCore

/// How one transport turns an event into bytes. The hub encodes each event once per encoding in
/// use and hands every subscriber of that encoding the same buffer.
public struct EventEncoding: Sendable, Hashable {
    public let id: String
    /// The transport it is counted under (`herald_deliveries_total{transport}`).
    public let transport: String
    public let encode: @Sendable (StreamEvent) -> ByteBuffer

    public init(id: String, transport: String, encode: @escaping @Sendable (StreamEvent) -> ByteBuffer) {
        self.id = id
        self.transport = transport
        self.encode = encode
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// A held connection (SSE, WebSocket) that the hub pushes events to.
///
/// The hub calls `deliver`, `flush` and `heartbeat` on the subscriber's own event loop, in the
/// order events were delivered, so a subscriber keeps its state without locks by touching it only
/// there. `deliver` only queues the bytes; the hub calls `flush` afterwards, a slice of connections
/// at a time (`LoopWriter`), so events that reach a connection before its flush leave in one write.
///
/// A subscriber's `eventLoop` and `encoding` never change: the hub reads them when it subscribes.
public protocol StreamSubscriber: AnyObject, Sendable {
    var eventLoop: any EventLoop { get }
    var encoding: EventEncoding { get }
    func deliver(_ event: StreamEvent, frame: ByteBuffer)
    func flush()
    func heartbeat()
    /// The server is stopping: end the connection so the client resumes (elsewhere) by cursor.
    func shutdown()
}
