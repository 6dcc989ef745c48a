import Foundation
import HeraldCore
import Testing

/// The streams held in memory answer as the store does, for every cursor they answer.
@Suite struct RecentEventsTests {
    private func withStore(retention: Retention, _ body: (SQLiteStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-recent-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(try SQLiteStore(directory: directory, retention: retention))
    }

    private func prime(_ recent: RecentEvents, _ stream: StreamName, from store: SQLiteStore) async throws {
        let ticket = try #require(recent.beginPriming(stream))
        recent.finishPriming(ticket, with: try await store.replay(stream, after: 0))
    }

    /// Random appends and replaces (some under the same name as earlier events, some after a jump
    /// in time past the age limit), each recorded as the fan-out would: after each, every cursor
    /// the memory answers gets what the store answers.
    @Test(arguments: [1, 2, 3, 4])
    func everyAnswerIsTheStoresUnderRandomWritesAndTheRetention(seed: UInt64) async throws {
        let retention = Retention(maxCount: 6, maxAge: 100)
        try await withStore(retention: retention) { store in
            let recent = RecentEvents(retention: retention, eventsPerStream: 4)
            let stream = StreamName.channel("mixed")
            var random = SeededRandom(seed: seed)
            var now = Date(timeIntervalSince1970: 1_000_000)
            for step in 0..<60 {
                if step == 7 { try await prime(recent, stream, from: store) }
                now += random.next(upTo: 10) == 0 ? 150 : Double(random.next(upTo: 20))
                let replace = random.next(upTo: 3) == 0
                let name = ["a", "b", "c"][Int(random.next(upTo: 3))]
                let written = try await store.addNotification(
                    to: stream, name: name, json: "{\"step\":\(step)}", mode: replace ? .replace : .append, at: now)
                recent.record(StreamEvent(stream: stream, notification: written))
                guard step >= 7 else { continue }
                let lastSeq = try await store.lastSeq(of: stream)
                #expect(recent.lastSeq(of: stream) == lastSeq)
                var answered = 0
                for cursor in 0...lastSeq {
                    guard let held = recent.replay(stream, after: cursor) else { continue }
                    answered += 1
                    let stored = try await store.replay(stream, after: cursor)
                    #expect(held.notifications == stored.notifications, "step \(step), after \(cursor)")
                    #expect(held.lastSeq == stored.lastSeq)
                    #expect(max(cursor, held.evictedThrough) == max(cursor, stored.evictedThrough), "after \(cursor)")
                    let page = try #require(recent.notifications(in: stream, after: cursor, limit: 3))
                    #expect(page == (try await store.notifications(in: stream, after: .seq(cursor), limit: 3)))
                }
                #expect(answered >= 1, "the newest cursor is always answered")
            }
        }
    }

    @Test func aStreamIsHeldOnlyFromAWholeSnapshotThatMissesNothingRecordedMeanwhile() async throws {
        try await withStore(retention: Retention()) { store in
            let recent = RecentEvents(retention: Retention())
            let stream = StreamName.channel("race")
            _ = try await store.addNotification(to: stream, name: "e", json: "1", mode: .append, at: Date())
            #expect(recent.replay(stream, after: 0) == nil, "not held until primed")

            let ticket = try #require(recent.beginPriming(stream))
            #expect(recent.beginPriming(stream) == nil, "one reader primes at a time")
            let snapshot = try await store.replay(stream, after: 0)
            // A write lands after the snapshot was read and before it is handed over.
            let late = try await store.addNotification(to: stream, name: "e", json: "2", mode: .append, at: Date())
            recent.record(StreamEvent(stream: stream, notification: late))
            recent.finishPriming(ticket, with: snapshot)
            #expect(recent.replay(stream, after: 0) == nil, "the snapshot misses seq 2: not held")

            try await prime(recent, stream, from: store)
            #expect(recent.replay(stream, after: 0)?.notifications.map(\.json) == ["1", "2"])
        }
    }

    @Test func anEventThatDoesNotFollowTheLastMakesTheStreamBeReadFromTheStoreAgain() async throws {
        try await withStore(retention: Retention()) { store in
            let recent = RecentEvents(retention: Retention())
            let stream = StreamName.channel("gap")
            try await prime(recent, stream, from: store)
            #expect(recent.lastSeq(of: stream) == 0)
            let first = try await store.addNotification(to: stream, name: "e", json: "1", mode: .append, at: Date())
            let second = try await store.addNotification(to: stream, name: "e", json: "2", mode: .append, at: Date())
            recent.record(StreamEvent(stream: stream, notification: second))
            #expect(recent.lastSeq(of: stream) == nil, "seq 2 without seq 1: forgotten")
            recent.record(StreamEvent(stream: stream, notification: first))
            #expect(recent.lastSeq(of: stream) == nil)
        }
    }

    @Test func onlyTheNewestEventsAreHeldAndOlderCursorsGoToTheStore() async throws {
        try await withStore(retention: Retention()) { store in
            let recent = RecentEvents(retention: Retention(), eventsPerStream: 3)
            let stream = StreamName.channel("long")
            for index in 1...5 { _ = try await store.addNotification(to: stream, name: "e", json: "\(index)", mode: .append, at: Date()) }
            try await prime(recent, stream, from: store)
            #expect(recent.replay(stream, after: 1) == nil)
            #expect(recent.replay(stream, after: 2)?.notifications.map(\.seq) == [3, 4, 5])
            #expect(recent.notifications(in: stream, after: 4, limit: 10)?.map(\.seq) == [5])
        }
    }

    @Test func pastItsCapacityTheOldestHalfOfTheStreamsIsForgotten() throws {
        let recent = RecentEvents(retention: Retention(), streams: 4)
        for index in 0..<5 {
            let ticket = try #require(recent.beginPriming(.channel("s\(index)")))
            recent.finishPriming(ticket, with: StreamReplay(notifications: [], evictedThrough: 0, lastSeq: 0))
        }
        #expect(recent.held.streams == 3)
        #expect(recent.lastSeq(of: .channel("s0")) == nil && recent.lastSeq(of: .channel("s4")) == 0)
    }

    /// A priming whose slot was forgotten (the streams overflowed) and taken by a later priming
    /// cannot fill that later one's slot with its older snapshot.
    @Test func aForgottenPrimingCannotFillTheSlotOfALaterOne() throws {
        let recent = RecentEvents(retention: Retention(), streams: 2)
        let stream = StreamName.channel("a")
        let first = try #require(recent.beginPriming(stream))
        _ = recent.beginPriming(.channel("b"))
        _ = recent.beginPriming(.channel("c"))  // over capacity: "a", the oldest, is forgotten
        // Written after the first snapshot was read, and recorded while "a" had no slot.
        let written = StreamNotification(id: 1, name: "e", json: "1", timestamp: 0, seq: 1, mode: .append)
        recent.record(StreamEvent(stream: stream, notification: written))
        let second = try #require(recent.beginPriming(stream))
        recent.finishPriming(first, with: StreamReplay(notifications: [], evictedThrough: 0, lastSeq: 0))
        #expect(recent.lastSeq(of: stream) == nil, "the old snapshot (before seq 1) is not held")
        recent.finishPriming(second, with: StreamReplay(notifications: [written], evictedThrough: 0, lastSeq: 1))
        #expect(recent.lastSeq(of: stream) == 1)
    }

    /// Big payloads: a stream keeps only the newest events that fit its bytes, and a stream whose
    /// states alone do not fit is not held at all; every byte counted is given back when forgotten.
    @Test func heldNotificationsStayWithinTheirBytes() throws {
        let recent = RecentEvents(retention: Retention(), bytesPerStream: 10_000, bytes: 25_000)
        let big = String(repeating: "x", count: 3_000)
        let stream = StreamName.channel("big")
        let events = (1...5).map { StreamNotification(id: $0, name: "e", json: big, timestamp: 0, seq: $0, mode: .append) }
        let ticket = try #require(recent.beginPriming(stream))
        recent.finishPriming(ticket, with: StreamReplay(notifications: events, evictedThrough: 0, lastSeq: 5))
        #expect(recent.replay(stream, after: 2)?.notifications.map(\.seq) == [3, 4, 5])
        #expect(recent.replay(stream, after: 1) == nil, "seq 2 and before are the store's to answer")
        #expect(recent.held.bytes < 10_000)

        let states = StreamName.channel("states")
        let many = (1...4).map { StreamNotification(id: $0, name: "s\($0)", json: big, timestamp: 0, seq: $0, mode: .replace) }
        let other = try #require(recent.beginPriming(states))
        recent.finishPriming(other, with: StreamReplay(notifications: many, evictedThrough: 0, lastSeq: 4))
        #expect(recent.lastSeq(of: states) == nil)

        for index in 0..<6 {
            let ticket = try #require(recent.beginPriming(.channel("more\(index)")))
            recent.finishPriming(ticket, with: StreamReplay(notifications: Array(events.prefix(2)), evictedThrough: 0, lastSeq: 2))
        }
        #expect(recent.held.bytes <= 25_000)
    }
}

/// A small deterministic generator (SplitMix64), so a failing seed fails the same way again.
struct SeededRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(upTo bound: UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) % bound
    }
}
