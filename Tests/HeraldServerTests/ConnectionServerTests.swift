import Foundation
import Glibc
import Hummingbird
import HummingbirdCore
@testable import HeraldServer
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

/// Herald's accept path on a real socket: a lean route and the router side by side, and what a
/// graceful shutdown does to each kind of connection. The e2e suite drives the same server
/// through `herald serve` (SIGTERM with a long poll held, with sockets that never send a request).
@Suite struct ConnectionServerTests {
    /// A server with `GET /lean` served outside Hummingbird and `GET /hello` by a router.
    struct Running {
        let group: ServiceGroup
        let port: Int
        let run: Task<Void, any Error>
    }

    /// `onLean` sees the channel of every `GET /lean` before it is answered.
    func start(onLean: @escaping @Sendable (any Channel) -> Void = { _ in }) async throws -> Running {
        let (ports, bound) = AsyncStream.makeStream(of: Int.self)
        let server = server(port: 0, onLean: onLean) { channel in bound.yield(channel.localAddress?.port ?? 0) }
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let run = Task {
            defer { bound.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        return Running(group: group, port: port, run: run)
    }

    func server(
        port: Int, onLean: @escaping @Sendable (any Channel) -> Void = { _ in },
        onRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some Service {
        let router = Router()
        router.get("/hello") { _, _ in "hello" }
        let responder = router.buildResponder().channelResponder(serverName: "test", date: HTTPDate(), logger: logger)
        let lean = LeanRoute.get("/lean") { _, channel in
            onLean(channel)
            channel.writeAndFlush(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlean"))
                .whenComplete { _ in channel.close(promise: nil) }
        }
        return ConnectionServer(
            connections: StreamingChildChannel(
                inner: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: .seconds(30))), routes: [lean],
                headTimeout: .seconds(30)),
            host: "127.0.0.1", port: port, backlog: 16, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            onRunning: onRunning)
    }

    let logger = Logger(label: "test")

    @Test func aLeanRouteAndTheRouterAreServedSideBySide() async throws {
        let server = try await start()
        let lean = try await RawClient.exchange(port: server.port, "GET /lean HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(lean.hasSuffix("\r\n\r\nlean"))
        let routed = try await RawClient.exchange(port: server.port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(routed.hasPrefix("HTTP/1.1 200 OK") && routed.contains("Server: test") && routed.contains("Date: "))
        #expect(routed.hasSuffix("\r\n\r\nhello"))
        await server.group.triggerGracefulShutdown()
        try await server.run.value
    }

    @Test(.enabled(if: ConnectionServer<HTTP1Channel>.listenerPerLoop))
    func everyEventLoopAcceptsItsOwnConnections() async throws {
        let loops = Mutex<[ObjectIdentifier: Int]>([:])
        let strangers = Mutex(0)
        let server = try await start { channel in
            loops.withLock { $0[ObjectIdentifier(channel.eventLoop), default: 0] += 1 }
            // Accepted by a listener of another loop and handed over: what one listener did.
            if channel.parent.map({ $0.eventLoop !== channel.eventLoop }) ?? true { strangers.withLock { $0 += 1 } }
        }
        for _ in 0..<40 {
            _ = try await RawClient.exchange(port: server.port, "GET /lean HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        #expect(strangers.withLock { $0 } == 0)
        // 40 connections from 40 source ports all hashed to one listener: about 2⁻³⁹ with two loops.
        let loopCount = MultiThreadedEventLoopGroup.singleton.makeIterator().map { $0 }.count
        #expect(loops.withLock { $0.count } >= min(2, loopCount))
        await server.group.triggerGracefulShutdown()
        try await server.run.value
    }

    @Test(.timeLimit(.minutes(1))) func aPortInUseFailsTheStartEvenForAnotherHerald() async throws {
        let first = try await start()
        await #expect(throws: IOError.self) { try await server(port: first.port).run() }
        // The first still serves.
        #expect(try await RawClient.exchange(port: first.port, "GET /lean HTTP/1.1\r\nHost: x\r\n\r\n").hasSuffix("lean"))
        await first.group.triggerGracefulShutdown()
        try await first.run.value
    }

    @Test func aLeanHeadSentInPiecesIsServed() async throws {
        let server = try await start()
        let client = try RawClient(port: server.port)
        for piece in ["GET /le", "an HTTP/1.1\r", "\nHost: x\r\n", "\r", "\n"] {
            try client.send(piece)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await client.readToEnd().hasSuffix("\r\n\r\nlean"))
        await server.group.triggerGracefulShutdown()
        try await server.run.value
    }

    @Test func aLeanHeadThatIsNotHTTPIsRefusedWithHeraldsError() async throws {
        let server = try await start()
        let folded = try await RawClient.exchange(port: server.port, "GET /lean HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n")
        #expect(folded.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && folded.contains(#""code":"malformed_request""#))
        let version = try await RawClient.exchange(port: server.port, "GET /lean HTTP/2.0\r\n\r\n")
        #expect(version.hasPrefix("HTTP/1.1 505 ") && version.contains(#""code":"http_version_not_supported""#))
        let huge = "GET /lean HTTP/1.1\r\nX: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"
        let tooLarge = try await RawClient.exchange(port: server.port, huge)
        #expect(tooLarge.hasPrefix("HTTP/1.1 431 ") && tooLarge.contains(#""code":"request_head_too_large""#))
        // The router's requests are still its own to judge.
        let routed = try await RawClient.exchange(port: server.port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(routed.hasSuffix("hello"))
        await server.group.triggerGracefulShutdown()
        try await server.run.value
    }

    @Test func aShutdownClosesAKeptAliveRouterConnectionAndEnds() async throws {
        let server = try await start()
        let client = try RawClient(port: server.port)
        try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.read(until: "hello").hasSuffix("hello"))
        let shutdown = ContinuousClock.now
        await server.group.triggerGracefulShutdown()
        try await server.run.value
        // Not the idle timeout (30 s) closing it: the quiesce event did, at once.
        #expect(ContinuousClock.now - shutdown < .seconds(10))
        #expect(try await client.readToEnd() == "")
    }

    @Test func connectionsStillSendingTheirFirstRequestAreClosedAtShutdown() async throws {
        let server = try await start()
        let starts = ["", "GET /le", "GET /lean HTTP/1.1\r\nHost", "GET /hel", "GET /hello HTTP/1.1\r\nHo"]
        let clients = try starts.map { start in
            let client = try RawClient(port: server.port)
            if !start.isEmpty { try client.send(start) }
            return client
        }
        try await Task.sleep(for: .milliseconds(100))
        let shutdown = ContinuousClock.now
        await server.group.triggerGracefulShutdown()
        try await server.run.value
        // Closed unanswered, at once rather than at the head timeout (30 s), whichever way each
        // request would have gone; the rest of a request sent now is not answered either.
        for client in clients {
            try? client.send("n HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readToEnd() == "")
        }
        #expect(ContinuousClock.now - shutdown < .seconds(10))
    }
}

/// A blocking TCP client whose reads run on a thread of their own, not the concurrency pool's.
final class RawClient: @unchecked Sendable {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let connected = address.withSockAddr { connect(fd, $0, socklen_t($1)) }
        guard connected == 0 else { close(fd); throw ChannelError.connectPending }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw ChannelError.ioOnClosedChannel }
    }

    /// What arrives until `marker` has, or until the server closes the connection.
    func read(until marker: String? = nil) async throws -> String {
        let fd = fd
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                var received = [UInt8]()
                var chunk = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = recv(fd, &chunk, chunk.count, 0)
                    if count < 0 { return continuation.resume(throwing: ChannelError.ioOnClosedChannel) }
                    if count == 0 { break }
                    received += chunk[0..<count]
                    if let marker, String(decoding: received, as: UTF8.self).contains(marker) { break }
                }
                continuation.resume(returning: String(decoding: received, as: UTF8.self))
            }.start()
        }
    }

    /// Everything until the server closes the connection (a read that times out throws).
    func readToEnd() async throws -> String { try await read() }

    static func exchange(port: Int, _ request: String) async throws -> String {
        let client = try RawClient(port: port)
        try client.send(request)
        return try await client.readToEnd()
    }
}
