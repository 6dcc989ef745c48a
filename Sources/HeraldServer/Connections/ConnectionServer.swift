#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Herald's listening socket. It accepts connections and sets each up with `StreamingChildChannel`;
/// only a connection that goes to Hummingbird gets a task, which runs Hummingbird's HTTP/1
/// handling for as long as the connection lasts.
///
/// Hummingbird's own server gives every connection a task from the moment it is accepted, handed
/// over through an async sequence, and that task waits for the connection's request line: two
/// wakes of the concurrency pool's threads per connection, which a held stream has no use for.
///
/// On Linux there is a listening socket per event loop, all on the one port (`SO_REUSEPORT`): the
/// kernel spreads new connections over them, and each connection stays on the loop that accepted
/// it. With one listener, one loop accepted every connection and handed every other one to the
/// next loop, waking it for each. A port something already listens on (another Herald included)
/// still fails the start, as it would have with one socket; a process of the same user that sets
/// `SO_REUSEPORT` itself could still join the port later, which one socket would have refused.
///
/// Guarantees:
/// - A graceful shutdown closes the listening sockets, tells every Hummingbird connection to finish
///   what it is answering and close (NIO's `ChannelShouldQuiesceEvent`, which Hummingbird's HTTP/1
///   handlers act on), and returns once they have. Held streams are ended by their own services.
/// - It also closes every connection still sending its first request: a request that arrives
///   after the shutdown began is not answered, whichever way it would have gone.
/// - Cancelled instead (another service failed), it closes the listener and those connections too.
struct ConnectionServer<Inner: ServerChildChannel>: Service, CustomStringConvertible {
    var description: String { "ConnectionServer" }

    let connections: StreamingChildChannel<Inner>
    let host: String
    let port: Int
    let backlog: Int
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    /// Called with the first listening channel once all are bound.
    let onRunning: @Sendable (any Channel) async -> Void

    func run() async throws {
        let (accepted, newConnection) = AsyncStream.makeStream(of: Inner.Value.self)
        let listeners = try await bind { value in
            if case .terminated = newConnection.yield(value) { value.channel.close(promise: nil) }
        }
        let listener = listeners[0]
        EventLoopFuture.andAllComplete(listeners.map(\.closeFuture), on: listener.eventLoop)
            .whenComplete { _ in newConnection.finish() }
        logger.info("Server started and listening on \(host):\(listener.localAddress?.port ?? port)")

        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await onRunning(listener)
                await withDiscardingTaskGroup { group in
                    for await value in accepted {
                        group.addTask {
                            await withGracefulShutdownHandler {
                                await connections.inner.handle(value: value, logger: logger)
                            } onGracefulShutdown: {
                                let channel = value.channel
                                channel.eventLoop.execute {
                                    channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
                                }
                            }
                        }
                    }
                }
            } onGracefulShutdown: {
                stop(listeners)
            }
        } onCancel: {
            stop(listeners)
        }
        // Cancelled, the loop above ends without the listeners being closed.
        stop(listeners)
    }

    /// Linux spreads new connections over the listeners that share a port; Darwin gives them all
    /// to one, so there one listener hands connections to every loop.
    #if os(Linux)
    static var listenerPerLoop: Bool { true }
    #else
    static var listenerPerLoop: Bool { false }
    #endif

    /// Binds a listener on every event loop, the first to `port` (any port, for 0), the others
    /// to the port it got.
    private func bind(toHummingbird: @escaping @Sendable (Inner.Value) -> Void) async throws -> [any Channel] {
        guard Self.listenerPerLoop else {
            return [try await bootstrap(on: nil, toHummingbird).bind(host: host, port: port).get()]
        }
        if port != 0 { try Self.checkNothingListens(host: host, port: port) }
        var listeners: [any Channel] = []
        do {
            var port = self.port
            for loop in eventLoopGroup.makeIterator() {
                let listener = try await bootstrap(on: loop, toHummingbird).bind(host: host, port: port).get()
                port = listener.localAddress?.port ?? port
                listeners.append(listener)
            }
        } catch {
            for listener in listeners { listener.close(promise: nil) }
            throw error
        }
        return listeners
    }

    /// Sockets that share a port with `SO_REUSEPORT` do not refuse each other, so this binds one
    /// without it first, which a listener already on the port refuses (another Herald's included).
    /// It does not listen, so no connection can reach it. Two servers started in the same instant
    /// could still both pass it.
    private static func checkNothingListens(host: String, port: Int) throws {
        #if os(Linux)
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let probe = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue), 0)
        guard probe >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        defer { close(probe) }
        var on: Int32 = 1
        _ = setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { pointer, size in Glibc.bind(probe, pointer, socklen_t(size)) }
        guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind(\(host):\(port))") }
        #endif
    }

    /// A listener on `loop` whose connections stay there (`SO_REUSEPORT`), or, with no loop, one
    /// that hands its connections to every loop in turn.
    private func bootstrap(on loop: (any EventLoop)?, _ toHummingbird: @escaping @Sendable (Inner.Value) -> Void) -> ServerBootstrap {
        let (connections, logger) = (connections, logger)
        return ServerBootstrap(group: loop ?? eventLoopGroup)
            .serverChannelOption(ChannelOptions.socketOption(.init(rawValue: SO_REUSEPORT)), value: loop == nil ? 0 : 1)
            .serverChannelOption(ChannelOptions.backlog, value: numericCast(backlog))
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // Out of file descriptors, accepting pauses a moment instead of failing in a loop.
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler(shouldForwardIOErrorCaught: false))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                connections.setup(channel: channel, logger: logger, toHummingbird: toHummingbird)
            }
    }

    /// Accepts nothing more, and closes the connections still sending their first request.
    private func stop(_ listeners: [any Channel]) {
        for listener in listeners { listener.close(promise: nil) }
        connections.pending.closeAll()
    }
}
