import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Herald's connections: each starts by reading its request line. A request for a held stream
/// (`GET /api/events`, `GET /ws`, a Socket.IO WebSocket) is served by its `LeanRoute`, on a
/// pipeline of its own; everything else goes to Hummingbird (`inner`), which sees the connection
/// exactly as if it had been its own from the start.
///
/// This is what keeps a held stream to a socket, a small handler and a subscriber: no
/// per-connection task, async channel or HTTP handlers stay behind it, and none is ever made.
struct StreamingChildChannel<Inner: ServerChildChannel>: Sendable {
    let inner: Inner
    let routes: [LeanRoute]
    /// The time a connection has to send its first request head.
    let headTimeout: TimeAmount
    /// The per-address connection limits, if any.
    let limits: Limits?
    /// The connections whose first request is still being read, for a graceful shutdown to close.
    let pending = PendingConnections()

    static var receiveBuffers: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)
    }

    init(inner: Inner, routes: [LeanRoute], headTimeout: TimeAmount, limits: Limits? = nil) {
        self.inner = inner
        self.routes = routes
        self.headTimeout = headTimeout
        self.limits = limits
    }

    /// Sets a new connection up to read its request line. The channel reads nothing until this
    /// is over, so the choice is made after: a lean route installs its handlers; otherwise
    /// Hummingbird's are installed and `toHummingbird` gets their value (on the channel's loop),
    /// for a task to run them.
    func setup(channel: any Channel, logger: Logger, toHummingbird: @escaping @Sendable (Inner.Value) -> Void)
        -> EventLoopFuture<Void>
    {
        channel.eventLoop.makeCompletedFuture {
            if let refusal = limits?.admit(channel) {
                RequestHeadHandler.refuse(channel, with: refusal)
                return
            }
            guard pending.add(channel) else {
                channel.close(promise: nil)
                return
            }
            let reader = RequestHeadHandler(routes: routes, pending: pending) { [inner] reader in
                let loop = channel.eventLoop
                inner.setup(channel: channel, logger: logger)
                    .flatMap { value in
                        // The bytes read so far go to Hummingbird's pipeline, now in place.
                        channel.pipeline.syncOperations.removeHandler(reader).map { value }
                    }
                    .hop(to: loop)
                    .whenComplete { result in
                        switch result {
                        case .success(let value): toHummingbird(value)
                        case .failure: channel.close(promise: nil)
                        }
                    }
            }
            // NIO keeps a connection's receive buffer for its next read, at the size its reads
            // grew it to (2 KB to start with by default). A held stream reads next to nothing
            // after its request, so it starts at what a request needs and grows only if it must.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            try channel.pipeline.syncOperations.addHandler(FirstRequestDeadline(timeout: headTimeout))
            try channel.pipeline.syncOperations.addHandler(reader, name: RequestHeadHandler.name)
        }
    }
}

/// A kind of request Herald serves outside Hummingbird, told by its request line.
struct LeanRoute: Sendable {
    /// Whether a request line (without its line ending) is for this route.
    let matches: @Sendable (ArraySlice<UInt8>) -> Bool
    /// Serves the request once its head is read; the channel is the route's from then on.
    let serve: @Sendable (HTTPRequestHead, any Channel) -> Void

    /// Requests for exactly `path`, with or without a query: `GET /ws` or `GET /ws?x=1`, not `GET /wsx`.
    static func get(_ path: String, serve: @escaping @Sendable (HTTPRequestHead, any Channel) -> Void) -> LeanRoute {
        let target = Array("GET \(path)".utf8)
        return LeanRoute(
            matches: { line in
                line.starts(with: target)
                    && [UInt8(ascii: " "), UInt8(ascii: "?")].contains(line.dropFirst(target.count).first)
            }, serve: serve)
    }
}
