import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A subscription to Redis channels and patterns that outlives its connections: when the
/// connection drops (or stops answering pings) it reconnects with back-off and subscribes again.
///
/// Pub/sub is fire-and-forget: messages published while the subscription was down are lost.
/// `onStateChange(true)` after an outage is the caller's cue to catch up from its own store.
public final class RedisSubscription: Sendable {
    public struct Options: Sendable {
        public var channels: [String]
        public var patterns: [String]
        /// A PING this often proves the connection alive; no answer within the same time ends it.
        public var pingInterval: Duration = .seconds(5)
        public var backoff = Backoff()

        public init(channels: [String] = [], patterns: [String] = []) {
            self.channels = channels
            self.patterns = patterns
        }
    }

    private let endpoint: RedisEndpoint
    private let options: Options
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onMessage: @Sendable (RedisMessage) -> Void
    private let onStateChange: @Sendable (Bool) -> Void
    private let subscribed = Atomic<Bool>(false)

    public init(
        endpoint: RedisEndpoint, options: Options,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
        onMessage: @escaping @Sendable (RedisMessage) -> Void,
        onStateChange: @escaping @Sendable (_ subscribed: Bool) -> Void = { _ in }
    ) {
        self.endpoint = endpoint
        self.options = options
        self.group = group
        self.logger = logger
        self.onMessage = onMessage
        self.onStateChange = onStateChange
    }

    /// Whether every channel and pattern is subscribed right now.
    public var isSubscribed: Bool { subscribed.load(ordering: .relaxed) }

    /// Subscribes, and keeps subscribing again after every failure, until the task is cancelled.
    public func run() async {
        var backoff = options.backoff
        while !Task.isCancelled {
            do {
                try await runOnce()
                if Task.isCancelled { break }
                logger.warning("redis subscription to \(endpoint) closed; reconnecting")
            } catch {
                if Task.isCancelled { break }
                logger.error("redis subscription to \(endpoint) failed: \(error); reconnecting")
            }
            // A connection that got as far as subscribing starts the back-off over.
            if isSubscribed { backoff.reset() }
            setSubscribed(false)
            try? await Task.sleep(for: backoff.next())
        }
        setSubscribed(false)
    }

    /// One connection's life: connect, subscribe, deliver until it ends.
    private func runOnce() async throws {
        let (pushes, continuation) = AsyncStream.makeStream(of: RESPValue.self)
        let connection = try await RedisConnection.connect(to: endpoint, group: group) { continuation.yield($0) }
        connection.channel.closeFuture.whenComplete { _ in continuation.finish() }
        let expected = Int64(options.channels.count + options.patterns.count)
        do {
            if !options.channels.isEmpty { try await connection.sendExpectingPushes(["SUBSCRIBE"] + options.channels) }
            if !options.patterns.isEmpty { try await connection.sendExpectingPushes(["PSUBSCRIBE"] + options.patterns) }
        } catch {
            await connection.close()
            throw error
        }
        let liveness = Liveness()

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [options] in
                while true {
                    try await Task.sleep(for: options.pingInterval)
                    guard liveness.answered.exchange(false, ordering: .relaxed) else {
                        await connection.close()
                        return
                    }
                    try await connection.sendExpectingPushes(["PING"])
                }
            }
            group.addTask { [self] in
                var confirmed: Int64 = 0
                for await push in pushes {
                    liveness.answered.store(true, ordering: .relaxed)
                    switch RedisMessage.classify(push) {
                    case .message(let message):
                        onMessage(message)
                    case .subscribed:
                        confirmed += 1
                        if confirmed == expected {
                            logger.info("redis subscription to \(endpoint) established")
                            setSubscribed(true)
                        }
                    case .pong:
                        break
                    case .unexpected(let value):
                        logger.error("redis sent \(value) to a subscribed connection; reconnecting")
                        await connection.close()
                    }
                }
            }
            defer { group.cancelAll() }
            try await withTaskCancellationHandler {
                try await group.next()
            } onCancel: {
                continuation.finish()
            }
        }
        await connection.close()
    }

    private func setSubscribed(_ value: Bool) {
        if subscribed.exchange(value, ordering: .relaxed) != value { onStateChange(value) }
    }
}

/// Whether anything arrived since the last PING, shared by the reader and the pinger.
private final class Liveness: Sendable {
    let answered = Atomic<Bool>(true)
}
