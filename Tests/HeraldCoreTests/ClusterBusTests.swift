import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing

@testable import HeraldCore

/// Carries messages between the nodes of a test, or fails like a transport that is down.
final class LoopbackTransport: BusTransport, Sendable {
    let maxMessageBytes: Int
    let nodes = Mutex<[ClusterBus]>([])
    let down = Atomic<Bool>(false)

    init(maxMessageBytes: Int = 1 << 20) {
        self.maxMessageBytes = maxMessageBytes
    }

    struct Down: Error {}

    func send(_ message: String) async throws {
        if down.load(ordering: .relaxed) { throw Down() }
        for node in nodes.withLock({ $0 }) { await node.receive(Array(message.utf8)) }
    }
}

/// Two nodes on one store, with the bus between them.
@Suite struct ClusterBusTests {
    struct Node {
        let bus: ClusterBus
        let reader: RecordingSubscriber
    }

    func node(_ name: String, store: any HeraldStore, transport: LoopbackTransport, secret: String? = nil) -> Node {
        let hub = StreamHub()
        let bus = ClusterBus(
            sequencer: StreamSequencer(hub: hub, store: store), transport: transport, nodeID: name, secret: secret,
            logger: .init(label: "test"))
        transport.nodes.withLock { $0.append(bus) }
        let reader = RecordingSubscriber(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        hub.subscribe(reader, to: [.channel("c")])
        hub.observe(.channel("c"), at: 0)
        return Node(bus: bus, reader: reader)
    }

    func publish(_ n: Int, through node: Node, store: any HeraldStore) async throws {
        let written = try await store.addNotification(to: .channel("c"), name: "e", json: String(repeating: "\(n)", count: 1 + n % 3), mode: .append, at: Date())
        await node.bus.publish([StreamEvent(stream: .channel("c"), notification: written)])
    }

    func seqs(_ node: Node, count: Int) async throws -> [Int64] {
        let deadline = ContinuousClock.now + .seconds(5)
        while node.reader.received.withLock({ $0.count }) < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        return node.reader.received.withLock { $0.map(\.1) }
    }

    @Test func eventsReachTheOtherNodeWholeOrByReferenceAndNothingIsLostWhileTheTransportIsDown() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        // Small enough that some messages go as references.
        let transport = LoopbackTransport(maxMessageBytes: 120)
        let a = node("a", store: store, transport: transport)
        let b = node("b", store: store, transport: transport)
        for n in 1...4 { try await publish(n, through: n.isMultiple(of: 2) ? a : b, store: store) }
        #expect(try await seqs(a, count: 4) == [1, 2, 3, 4])
        #expect(try await seqs(b, count: 4) == [1, 2, 3, 4])

        // Down: each node's own readers still get its events; the others' come once it is back.
        transport.down.store(true, ordering: .relaxed)
        for n in 5...7 { try await publish(n, through: a, store: store) }
        #expect(try await seqs(a, count: 7) == Array(1...7))
        transport.down.store(false, ordering: .relaxed)
        await a.bus.sendHeld()
        #expect(try await seqs(b, count: 7) == Array(1...7))

        // Lost for good (the other node never heard): caught up from the store once it listens again.
        transport.down.store(true, ordering: .relaxed)
        try await publish(8, through: a, store: store)
        transport.down.store(false, ordering: .relaxed)
        await b.bus.listening(true)
        #expect(try await seqs(b, count: 8) == Array(1...8))
        await a.bus.sendHeld()  // the held copy arrives late, and is dropped as seen
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await seqs(b, count: 8) == Array(1...8))
    }

    @Test func aCallReachesOnlyItsNodeAndItsAnswerComesBack() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let transport = LoopbackTransport()
        let a = node(ClusterBus.newNodeID(), store: store, transport: transport)
        let b = node(ClusterBus.newNodeID(), store: store, transport: transport)
        let c = node(ClusterBus.newNodeID(), store: store, transport: transport)
        let heardByC = Mutex(0)
        b.bus.onCall { body in "b got \(body)" }
        c.bus.onCall { _ in
            heardByC.withLock { $0 += 1 }
            return "c"
        }
        #expect(await a.bus.call(b.bus.nodeID, "hello", timeout: .seconds(5)) == "b got hello")
        #expect(heardByC.withLock { $0 } == 0)
        // Nobody by that id: no answer, within the timeout.
        #expect(await a.bus.call("nobody9999", "hello", timeout: .milliseconds(100)) == nil)
        transport.down.store(true, ordering: .relaxed)
        #expect(await a.bus.call(b.bus.nodeID, "hello", timeout: .seconds(5)) == nil)
        #expect(ClusterBus.isNodeID(a.bus.nodeID) && !ClusterBus.isNodeID("Not-An-Id") && !ClusterBus.isNodeID("abc"))
    }

    @Test func aPublishTooLargeForTheTransportGoesAsReferencesThatEachFit() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let transport = LoopbackTransport(maxMessageBytes: 7_900)
        let a = node("a", store: store, transport: transport)
        let events = (1...600).map { n in
            StreamEvent(
                stream: .user(Int64(n)),
                notification: StreamNotification(id: Int64(n), name: "e", json: "1", timestamp: 0, seq: 1, mode: .append))
        }
        let messages = a.bus.messages(for: events)
        #expect(messages.count > 1)
        #expect(messages.allSatisfy { $0.utf8.count <= 7_900 })
        let references = try messages.flatMap { try BusMessage.decode(Array($0.utf8)).events }
        #expect(references == events.map { .reference($0.stream, seq: 1) })
    }

    @Test func withASecretOnlyMessagesSignedWithItAreTaken() async throws {
        let store = try SQLiteStore(directory: temporaryDirectory())
        let transport = LoopbackTransport()
        let a = node("a", store: store, transport: transport, secret: "s3cret")
        let b = node("b", store: store, transport: transport, secret: "s3cret")
        let stranger = node("x", store: store, transport: transport, secret: "other")
        try await publish(1, through: a, store: store)
        #expect(try await seqs(b, count: 1) == [1])
        #expect(stranger.reader.received.withLock { $0.isEmpty })

        // Unsigned, or signed with another secret: refused, whatever it claims.
        let forged = StreamEvent(
            stream: .channel("c"),
            notification: StreamNotification(id: 99, name: "e", json: "666", timestamp: 0, seq: 2, mode: .append))
        let unsigned = BusMessage(node: "a", events: [forged]).encoded()
        await b.bus.receive(Array(unsigned.utf8))
        #expect(!b.bus.receiveNow(Array(unsigned.utf8)))
        let otherSecret = BusSigner(secret: "other").seal(unsigned)
        await b.bus.receive(Array(otherSecret.utf8))
        try await Task.sleep(for: .milliseconds(50))
        #expect(b.reader.received.withLock { $0.map(\.1) } == [1])
        #expect(BusSigner(secret: "s3cret").open(Array(BusSigner(secret: "s3cret").seal("{}").utf8)) == Array("{}".utf8))
        #expect(BusSigner(secret: "s3cret").open(Array("h1:short {}".utf8)) == nil)
    }
}
