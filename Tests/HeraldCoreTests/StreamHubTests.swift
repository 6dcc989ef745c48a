import Foundation
import HeraldCore
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

/// A subscriber that records what the hub hands it.
final class RecordingSubscriber: StreamSubscriber {
    let eventLoop: any EventLoop
    let encoding = EventEncoding(id: "test", transport: "test") { event in ByteBuffer(string: "seq \(event.notification.seq)") }
    let received = Mutex<[(StreamName, Int64, String)]>([])
    let flushes = Mutex(0)

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func deliver(_ event: StreamEvent, frame: ByteBuffer) {
        eventLoop.assertInEventLoop()
        received.withLock { $0.append((event.stream, event.notification.seq, String(buffer: frame))) }
    }

    func flush() { flushes.withLock { $0 += 1 } }
    func heartbeat() {}
    func shutdown() {}
}

/// A subscriber that counts the flushes that sent something, as a socket counts its writes.
final class WriteCountingSubscriber: StreamSubscriber, @unchecked Sendable {
    let eventLoop: any EventLoop
    let encoding = EventEncoding(id: "counting", transport: "test") { _ in ByteBuffer() }
    private(set) var seqs: [Int64] = []
    private(set) var writes = 0
    private(set) var unflushed = false
    /// Called with each event's seq as it is written.
    var onDeliver: ((Int64) -> Void)?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func deliver(_ event: StreamEvent, frame: ByteBuffer) {
        seqs.append(event.notification.seq)
        unflushed = true
        onDeliver?(event.notification.seq)
    }

    func flush() {
        if unflushed { writes += 1 }
        unflushed = false
    }

    func heartbeat() {}
    func shutdown() {}
}

@Suite struct StreamHubTests {
    let group = MultiThreadedEventLoopGroup.singleton

    /// `count` readers of `stream` on `loop`, the stream's position at 0.
    func subscribedReaders(_ count: Int, of stream: StreamName, on loop: any EventLoop, in hub: StreamHub) -> [WriteCountingSubscriber] {
        let readers = (0..<count).map { _ in WriteCountingSubscriber(eventLoop: loop) }
        for reader in readers { hub.subscribe(reader, to: [stream]) }
        hub.observe(stream, at: 0)
        return readers
    }

    func event(_ stream: StreamName, _ seq: Int64) -> StreamEvent {
        StreamEvent(
            stream: stream,
            notification: StreamNotification(id: seq, name: "e", json: "null", timestamp: 0, seq: seq, mode: .append))
    }

    @Test func deliversEachStreamsEventsInOrderOnTheSubscribersLoopAndFlushes() async throws {
        let hub = StreamHub()
        let both = RecordingSubscriber(eventLoop: group.next())
        let lobbyOnly = RecordingSubscriber(eventLoop: group.next())
        hub.subscribe(both, to: [.user(1), .channel("lobby")])
        hub.subscribe(lobbyOnly, to: [.channel("lobby")])
        for stream in [StreamName.user(1), .channel("lobby")] { hub.observe(stream, at: 0) }
        #expect(hub.subscriberCount == 2)
        for seq in 1...50 {
            hub.deliver(event(.channel("lobby"), Int64(seq)))
            hub.deliver(event(.user(1), Int64(seq)))
            hub.deliver(event(.user(2), Int64(seq)))
        }
        while both.received.withLock({ $0.count }) < 100 || lobbyOnly.received.withLock({ $0.count }) < 50 {
            try await Task.sleep(for: .milliseconds(2))
        }
        let lobby = lobbyOnly.received.withLock { $0 }
        #expect(lobby.map(\.1) == Array(1...50))
        #expect(lobby.allSatisfy { $0.0 == .channel("lobby") && $0.2 == "seq \($0.1)" })
        let mine = both.received.withLock { $0 }
        #expect(mine.filter { $0.0 == .user(1) }.map(\.1) == Array(1...50))
        #expect(both.flushes.withLock { $0 } >= 1)

        hub.unsubscribe(both, from: [.channel("lobby")])
        #expect(hub.subscriberCount == 2)
        hub.unsubscribeAll(both)
        hub.unsubscribeAll(lobbyOnly)
        #expect(hub.subscriberCount == 0)
    }

    func received(_ subscriber: RecordingSubscriber, count: Int) async throws -> [Int64] {
        while subscriber.received.withLock({ $0.count }) < count { try await Task.sleep(for: .milliseconds(2)) }
        return subscriber.received.withLock { $0.map(\.1) }
    }

    @Test func aStreamsEventsAreHandedOnOnceInSeqOrderAndAGapIsReported() async throws {
        let hub = StreamHub()
        let reader = RecordingSubscriber(eventLoop: group.next())
        hub.subscribe(reader, to: [.user(1)])
        // Before the reader's history ends, the hub cannot place an event: held back, and said so.
        #expect(hub.deliver(event(.user(1), 1)) == .stale)
        #expect(hub.observe(.user(1), at: 0) == true)
        #expect(hub.deliver(event(.user(1), 1)) == .delivered)
        #expect(hub.deliver(event(.user(1), 2)) == .delivered)
        // Repeated (a bus echo, a second catch-up): dropped.
        #expect(hub.deliver(event(.user(1), 2)) == .stale)
        // Seq 3 has not arrived: 4 waits for someone to fill the gap from the store.
        #expect(hub.deliver(event(.user(1), 4)) == .gap(after: 2))
        #expect(hub.deliver(event(.user(1), 3)) == .delivered)
        #expect(hub.deliver(event(.user(1), 4)) == .delivered)
        // What the store holds may skip seqs (replaced states): accepted when asked to.
        #expect(hub.deliver(event(.user(1), 7), acceptingGap: true) == .delivered)
        #expect(try await received(reader, count: 5) == [1, 2, 3, 4, 7])
        #expect(hub.positions().map(\.seq) == [7])
        // Streams nobody reads here are not tracked.
        #expect(hub.deliver(event(.user(2), 9)) == .delivered)
        #expect(hub.positions().count == 1)
    }

    @Test func aNewReaderWhoseHistoryEndsEarlierBringsThePositionDown() async throws {
        let hub = StreamHub()
        let first = RecordingSubscriber(eventLoop: group.next())
        hub.subscribe(first, to: [.channel("c")])
        hub.observe(.channel("c"), at: 10)
        #expect(hub.deliver(event(.channel("c"), 12)) == .gap(after: 10))
        let second = RecordingSubscriber(eventLoop: group.next())
        hub.subscribe(second, to: [.channel("c")])
        hub.observe(.channel("c"), at: 8)
        hub.observe(.channel("c"), at: 11)  // never raises it
        #expect(hub.positions().first?.seq == 8)
        #expect(hub.deliver(event(.channel("c"), 9)) == .delivered)
        // The last reader gone, the stream is forgotten.
        hub.unsubscribeAll(first)
        hub.unsubscribeAll(second)
        #expect(hub.positions().isEmpty)
    }

    /// Events that reach a connection before its flush leave in one write; one at a time, each
    /// is written and flushed in the loop's next turn. Order and exactly-once hold either way.
    @Test func eventsThatPileUpBeforeAFlushLeaveInOneWrite() throws {
        let loop = EmbeddedEventLoop()
        let hub = StreamHub()
        // The embedded loop's clock stands still within a turn, so one turn does all the work here;
        // the next test splits a fan-out into turns on a real loop.
        let readers = subscribedReaders(3000, of: .channel("c"), on: loop, in: hub)

        for seq in 1...3 { hub.deliver(event(.channel("c"), Int64(seq))) }
        loop.advanceTime(by: .seconds(1))
        #expect(readers.allSatisfy { $0.seqs == [1, 2, 3] && $0.writes == 1 })

        hub.deliver(event(.channel("c"), 4))
        loop.advanceTime(by: .seconds(1))
        hub.deliver(event(.channel("c"), 5))
        loop.advanceTime(by: .seconds(1))
        #expect(readers.allSatisfy { $0.seqs == [1, 2, 3, 4, 5] && $0.writes == 3 })

        // A publish that arrives while the loop is still writing the one before (here: as the
        // first reader is written to) goes out in the same writes.
        var published = false
        for reader in readers {
            reader.onDeliver = { seq in
                guard seq == 6, !published else { return }
                published = true
                hub.deliver(event(.channel("c"), 7))
            }
        }
        hub.deliver(event(.channel("c"), 6))
        loop.advanceTime(by: .seconds(1))
        #expect(readers.allSatisfy { $0.seqs == Array(1...7) && $0.writes == 4 })
        try loop.syncShutdownGracefully()
    }

    /// Published on the loop of a few readers whose writer is idle, an event is written and flushed
    /// before `deliver` returns; to more readers than a check's worth, or while the writer has a
    /// turn queued, it waits for the loop's turn. Each reader gets each event once, in order.
    @Test func anEventForAFewReadersOnTheLoopThatPublishesItLeavesAtOnce() throws {
        let loop = EmbeddedEventLoop()
        let hub = StreamHub()
        let few = subscribedReaders(2, of: .channel("few"), on: loop, in: hub)
        let many = subscribedReaders(200, of: .channel("many"), on: loop, in: hub)

        hub.deliver(event(.channel("few"), 1))
        #expect(few.allSatisfy { $0.seqs == [1] && $0.writes == 1 && !$0.unflushed })

        hub.deliver(event(.channel("many"), 1))
        #expect(many.allSatisfy { $0.seqs.isEmpty })
        // The writer now has a turn queued: this one waits for it too, behind the one before.
        hub.deliver(event(.channel("few"), 2))
        #expect(few.allSatisfy { $0.seqs == [1] })
        loop.run()
        #expect(many.allSatisfy { $0.seqs == [1] && $0.writes == 1 })
        #expect(few.allSatisfy { $0.seqs == [1, 2] && $0.writes == 2 })

        hub.deliver(event(.channel("few"), 3))
        #expect(few.allSatisfy { $0.seqs == [1, 2, 3] && $0.writes == 3 })
        try loop.syncShutdownGracefully()
    }

    /// Subscribers leaving from anywhere in their loop's list, and coming back, each get exactly
    /// the events published while subscribed.
    @Test func subscribersThatLeaveAndComeBackGetOnlyWhatWasPublishedWhileThere() throws {
        let loop = EmbeddedEventLoop()
        let hub = StreamHub()
        let readers = subscribedReaders(6, of: .channel("c"), on: loop, in: hub)
        hub.subscribe(readers[0], to: [.channel("c")])  // twice: still one subscription
        hub.deliver(event(.channel("c"), 1))
        hub.unsubscribe(readers[1], from: [.channel("c")])
        hub.unsubscribeAll(readers[5])
        hub.unsubscribe(readers[0], from: [.channel("c")])
        hub.deliver(event(.channel("c"), 2))
        hub.subscribe(readers[1], to: [.channel("c")])
        hub.deliver(event(.channel("c"), 3))
        loop.run()
        #expect(readers.map(\.seqs) == [[1], [1, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1]])
        #expect(hub.subscriberCount == 4)
        for reader in readers { hub.unsubscribeAll(reader) }
        #expect(hub.subscriberCount == 0 && hub.positions().isEmpty)
        try loop.syncShutdownGracefully()
    }

    /// On a real loop, a fan-out far longer than a turn is cut into turns, and the loop runs its
    /// other work between them; every reader still gets every event once, in order, and flushed.
    @Test func aFanOutLongerThanATurnLetsTheLoopWorkBetweenTurnsAndReachesEveryone() async throws {
        let loop = group.next()
        let hub = StreamHub()
        let readers = subscribedReaders(5000, of: .channel("c"), on: loop, in: hub)
        // Published on the loop, so that the writer's first turn and the loop's next piece of
        // work (counting flushed readers) are queued one behind the other.
        let flushedWhenTheLoopWasFree = try await loop.flatSubmit {
            for seq in 1...20 { hub.deliver(event(.channel("c"), Int64(seq))) }
            return loop.submit { readers.count { $0.writes > 0 } }
        }.get()
        #expect(flushedWhenTheLoopWasFree < readers.count)

        var done = false
        for _ in 0..<400 where !done {
            done = try await loop.submit { readers.allSatisfy { $0.seqs.count == 20 && !$0.unflushed } }.get()
            if !done { try await Task.sleep(for: .milliseconds(25)) }
        }
        let everyone = try await loop.submit { readers.allSatisfy { $0.seqs == Array(1...20) && $0.writes >= 1 } }.get()
        #expect(done && everyone)
    }

    /// With a write delay, an event waits that long for the ones after it, even on an idle loop:
    /// events within the delay of the first leave with it, and none waits longer.
    @Test func withAWriteDelayEventsWithinItOfTheFirstLeaveTogether() throws {
        let loop = EmbeddedEventLoop()
        let hub = StreamHub(writeDelay: .milliseconds(2))
        let readers = subscribedReaders(300, of: .channel("c"), on: loop, in: hub)

        hub.deliver(event(.channel("c"), 1))
        loop.advanceTime(by: .milliseconds(1))
        #expect(readers.allSatisfy { $0.writes == 0 }, "not flushed before the delay")
        hub.deliver(event(.channel("c"), 2))
        loop.advanceTime(by: .microseconds(990))
        #expect(readers.allSatisfy { $0.writes == 0 })
        loop.advanceTime(by: .microseconds(200))
        #expect(readers.allSatisfy { $0.seqs == [1, 2] && $0.writes == 1 }, "both at 2 ms after the first")

        hub.deliver(event(.channel("c"), 3))
        loop.advanceTime(by: .milliseconds(3))
        hub.deliver(event(.channel("c"), 4))
        loop.advanceTime(by: .milliseconds(3))
        #expect(readers.allSatisfy { $0.seqs == [1, 2, 3, 4] && $0.writes == 3 }, "3 ms apart: a write each")
        try loop.syncShutdownGracefully()
    }
}

/// The sequencer fills what the hub reports missing from the store.
@Suite struct StreamSequencerTests {
    @Test func aGapIsFilledFromTheStoreAndCatchUpDeliversWhatTheBusLost() async throws {
        let directory = temporaryDirectory()
        let store = try SQLiteStore(directory: directory)
        let hub = StreamHub()
        let sequencer = StreamSequencer(hub: hub, store: store)
        let reader = RecordingSubscriber(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        hub.subscribe(reader, to: [.user(1)])
        hub.observe(.user(1), at: 0)
        var written: [StreamEvent] = []
        for n in 1...5 {
            let notification = try await store.addNotification(to: .user(1), name: "e", json: "\(n)", mode: .append, at: Date())
            written.append(StreamEvent(stream: .user(1), notification: notification))
        }
        // 2 and 3 were lost on the way; 5 overtook 4.
        await sequencer.receive([written[0], written[4], written[3]])
        while reader.received.withLock({ $0.count }) < 5 { try await Task.sleep(for: .milliseconds(2)) }
        #expect(reader.received.withLock { $0.map(\.1) } == [1, 2, 3, 4, 5])

        // Written while the bus was away, heard of by nobody: catch-up finds them.
        for n in 6...7 {
            _ = try await store.addNotification(to: .user(1), name: "e", json: "\(n)", mode: .append, at: Date())
        }
        await sequencer.catchUp()
        while reader.received.withLock({ $0.count }) < 7 { try await Task.sleep(for: .milliseconds(2)) }
        #expect(reader.received.withLock { $0.map(\.1) } == [1, 2, 3, 4, 5, 6, 7])
    }
}
