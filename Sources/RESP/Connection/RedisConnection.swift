import NIOCore
import NIOPosix

/// One connection to a Redis server. Commands may be sent from any task at any time; they are
/// written at once and answered in order (pipelining). A connection made with `onPush` is for
/// pub/sub: once it has subscribed, every reply is a push and goes there.
public final class RedisConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects, then logs in and selects the database the endpoint names.
    public static func connect(
        to endpoint: RedisEndpoint,
        parser: RESPParser = RESPParser(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onPush: (@Sendable (RESPValue) -> Void)? = nil
    ) async throws -> RedisConnection {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(RESPReplyDecoder(parser: parser)),
                        RESPClientHandler(onPush: onPush),
                    ])
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .get()
        let connection = RedisConnection(channel: channel)
        do {
            if let password = endpoint.password {
                _ = try await connection.send(["AUTH"] + (endpoint.username.map { [$0] } ?? []) + [password])
            }
            if let database = endpoint.database, onPush == nil {
                _ = try await connection.send(["SELECT", String(database)])
            }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Sends a command and waits for its reply; an error reply is thrown as `RedisError.server`.
    public func send(_ arguments: [String]) async throws -> RESPValue {
        let reply = channel.eventLoop.makePromise(of: RESPValue.self)
        let request = RESPRequest(bytes: RESPCommand.encode(arguments, allocator: channel.allocator), reply: reply)
        channel.writeAndFlush(request).cascadeFailure(to: reply)
        let value = try await reply.futureResult.get()
        if case .error(let message) = value { throw RedisError.server(message) }
        return value
    }

    /// Sends a command whose replies come as pushes (SUBSCRIBE, PSUBSCRIBE, PING when subscribed).
    public func sendExpectingPushes(_ arguments: [String]) async throws {
        let request = RESPRequest(bytes: RESPCommand.encode(arguments, allocator: channel.allocator), reply: nil)
        try await channel.writeAndFlush(request)
    }

    /// `PUBLISH`: the number of subscribers that received the message.
    @discardableResult
    public func publish(_ message: String, to channelName: String) async throws -> Int64 {
        let reply = try await send(["PUBLISH", channelName, message])
        guard case .integer(let receivers) = reply else { throw RedisError.unexpectedReply(reply) }
        return receivers
    }

    public var isActive: Bool { channel.isActive }

    /// Completes when the connection is gone, for whatever reason.
    public func closed() async {
        try? await channel.closeFuture.get()
    }

    public func close() async {
        try? await channel.close()
    }
}
