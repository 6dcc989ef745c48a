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
/// Guarantees:
/// - A graceful shutdown closes the listening socket, tells every Hummingbird connection to finish
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
    /// Called with the listening channel once it is bound.
    let onRunning: @Sendable (any Channel) async -> Void

    func run() async throws {
        let (accepted, newConnection) = AsyncStream.makeStream(of: Inner.Value.self)
        let (connections, logger) = (connections, logger)
        let listener = try await ServerBootstrap(group: eventLoopGroup)
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
                connections.setup(channel: channel, logger: logger) { value in
                    if case .terminated = newConnection.yield(value) { value.channel.close(promise: nil) }
                }
            }
            .bind(host: host, port: port).get()
        listener.closeFuture.whenComplete { _ in newConnection.finish() }
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
                stop(listener)
            }
        } onCancel: {
            stop(listener)
        }
        // Cancelled, the loop above ends without the listener being closed.
        stop(listener)
    }

    /// Accepts nothing more, and closes the connections still sending their first request.
    private func stop(_ listener: any Channel) {
        listener.close(promise: nil)
        connections.pending.closeAll()
    }
}
