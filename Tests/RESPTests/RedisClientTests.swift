import Logging
import NIOCore
import RESP
import Synchronization
import Testing

@Suite(.serialized) struct RedisClientTests {
    let logger = Logger(label: "resp-tests")

    func endpoint(_ server: RedisServerProcess) -> RedisEndpoint {
        RedisEndpoint(host: "127.0.0.1", port: server.port, password: server.password)
    }

    @Test func commandsArePipelinedAndAnsweredInOrder() async throws {
        let server = try RedisServerProcess()
        let connection = try await RedisConnection.connect(to: endpoint(server))
        let replies = try await withThrowingTaskGroup(of: (Int, RESPValue).self) { group in
            for n in 0..<200 {
                group.addTask { (n, try await connection.send(["INCR", "counter"])) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        // Each INCR got its own answer: the 200 answers are 1…200, none lost or repeated.
        let counts = replies.values.compactMap { if case .integer(let n) = $0 { n } else { nil } }
        #expect(Set(counts) == Set(1...200))
        #expect(try await connection.send(["GET", "counter"]).string == "200")
        await #expect(throws: RedisError.server("ERR unknown command 'NOSUCHCOMMAND', with args beginning with: ")) {
            try await connection.send(["NOSUCHCOMMAND"])
        }
        // An error reply does not put the connection out of step.
        #expect(try await connection.send(["ECHO", "still here"]).string == "still here")
        await connection.close()
    }

    @Test func logsInWithThePassword() async throws {
        let server = try RedisServerProcess(password: "s3cret")
        let connection = try await RedisConnection.connect(to: endpoint(server))
        #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
        await connection.close()
        var wrong = endpoint(server)
        wrong.password = "guess"
        await #expect(throws: RedisError.self) { try await RedisConnection.connect(to: wrong) }
        wrong.password = nil
        let anonymous = try await RedisConnection.connect(to: wrong)
        await #expect(throws: RedisError.self) { try await anonymous.send(["PING"]) }
        await anonymous.close()
    }

    @Test func aSubscriptionReceivesWhatRedisCliPublishes() async throws {
        let server = try RedisServerProcess()
        let received = Inbox<RedisMessage>()
        let states = Inbox<Bool>()
        var options = RedisSubscription.Options(channels: ["sse", "flask-socketio"], patterns: ["herald:channel:*"])
        options.pingInterval = .milliseconds(200)
        let subscription = RedisSubscription(endpoint: endpoint(server), options: options, logger: logger,
                                             onMessage: received.put, onStateChange: states.put)
        let running = Task { await subscription.run() }
        defer { running.cancel() }
        #expect(try await states.next() == true)
        #expect(subscription.isSubscribed)

        #expect(try server.cli("PUBLISH", "sse", #"{"data": {"tag": "x"}, "type": "greeting"}"#) == "1")
        #expect(try server.cli("PUBLISH", "herald:channel:news", #"{"name":"news","data":1}"#) == "1")
        #expect(try server.cli("PUBLISH", "not-subscribed", "x") == "0")
        let first = try await received.next()
        #expect(first.channel == "sse" && first.pattern == nil)
        #expect(String(buffer: first.payload) == #"{"data": {"tag": "x"}, "type": "greeting"}"#)
        let second = try await received.next()
        #expect(second.channel == "herald:channel:news" && second.pattern == "herald:channel:*")
        // Pings keep flowing and are not mistaken for messages.
        try await Task.sleep(for: .milliseconds(600))
        #expect(received.isEmpty)
        #expect(subscription.isSubscribed)
    }

    /// Redis goes away and comes back on the same port: the subscription says so both times and
    /// subscribes again by itself.
    @Test func aSubscriptionSurvivesARedisRestart() async throws {
        let server = try RedisServerProcess()
        let received = Inbox<RedisMessage>()
        let states = Inbox<Bool>()
        var options = RedisSubscription.Options(channels: ["sse"])
        options.pingInterval = .milliseconds(200)
        options.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        let subscription = RedisSubscription(endpoint: endpoint(server), options: options, logger: logger,
                                             onMessage: received.put, onStateChange: states.put)
        let running = Task { await subscription.run() }
        defer { running.cancel() }
        #expect(try await states.next() == true)

        server.stop()
        #expect(try await states.next() == false)
        #expect(!subscription.isSubscribed)
        try await Task.sleep(for: .milliseconds(300))  // several failed attempts while it is down
        try server.start()
        #expect(try await states.next() == true)
        #expect(try server.cli("PUBLISH", "sse", "after the restart") == "1")
        #expect(String(buffer: try await received.next().payload) == "after the restart")
    }

    @Test func theClientReconnectsAfterAnOutageAndFailsFastDuringIt() async throws {
        let server = try RedisServerProcess()
        let client = RedisClient(endpoint: endpoint(server), backoff: Backoff(initial: .milliseconds(300), maximum: .seconds(1)),
                                 logger: logger)
        #expect(try await client.publish("one", to: "nobody") == 0)
        server.stop()
        // The dropped connection fails its command, the attempt to connect again fails, and until
        // the back-off has passed nothing more is tried.
        await #expect(throws: (any Error).self) { try await client.publish("two", to: "nobody") }
        await #expect(throws: (any Error).self) { try await client.publish("three", to: "nobody") }
        await #expect(throws: RedisError.unavailable) { try await client.publish("four", to: "nobody") }
        try server.start()
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await client.publish("five", to: "nobody") == 0)
        await client.close()
    }
}

/// Values handed over by callbacks, awaited one at a time with a deadline.
final class Inbox<Value: Sendable>: Sendable {
    private struct State {
        var values: [Value] = []
        var waiter: (id: Int, continuation: CheckedContinuation<Value?, Never>)?
        var waits = 0
    }

    private let state = Mutex(State())

    @Sendable func put(_ value: Value) {
        let waiter = state.withLock { state -> CheckedContinuation<Value?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter.continuation
            }
            state.values.append(value)
            return nil
        }
        waiter?.resume(returning: value)
    }

    var isEmpty: Bool { state.withLock { $0.values.isEmpty } }

    func next(within timeout: Duration = .seconds(5)) async throws -> Value {
        let value: Value? = await withCheckedContinuation { continuation in
            let (ready, id) = state.withLock { state -> (Value?, Int) in
                state.waits += 1
                if !state.values.isEmpty { return (state.values.removeFirst(), state.waits) }
                state.waiter = (state.waits, continuation)
                return (nil, state.waits)
            }
            if let ready {
                continuation.resume(returning: ready)
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                let expired = state.withLock { state -> CheckedContinuation<Value?, Never>? in
                    guard let waiter = state.waiter, waiter.id == id else { return nil }
                    state.waiter = nil
                    return waiter.continuation
                }
                expired?.resume(returning: nil)
            }
        }
        guard let value else { throw InboxTimeout() }
        return value
    }
}

struct InboxTimeout: Error {}
