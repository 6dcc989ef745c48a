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
        #expect(recent.beginPriming(stream))
        recent.finishPriming(stream, with: try await store.replay(stream, after: 0))
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
                    #expect(page.notifications == (try await store.notifications(in: stream, after: .seq(cursor), limit: 3)))
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

            #expect(recent.beginPriming(stream))
            #expect(!recent.beginPriming(stream), "one reader primes at a time")
            let snapshot = try await store.replay(stream, after: 0)
            // A write lands after the snapshot was read and before it is handed over.
            let late = try await store.addNotification(to: stream, name: "e", json: "2", mode: .append, at: Date())
            recent.record(StreamEvent(stream: stream, notification: late))
            recent.finishPriming(stream, with: snapshot)
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
            #expect(recent.notifications(in: stream, after: 4, limit: 10)?.notifications.map(\.seq) == [5])
        }
    }

    @Test func pastItsCapacityTheOldestHalfOfTheStreamsIsForgotten() {
        let recent = RecentEvents(retention: Retention(), streams: 4)
        for index in 0..<5 {
            let stream = StreamName.channel("s\(index)")
            #expect(recent.beginPriming(stream))
            recent.finishPriming(stream, with: StreamReplay(notifications: [], evictedThrough: 0, lastSeq: 0))
        }
        #expect(recent.heldStreams == 3)
        #expect(recent.lastSeq(of: .channel("s0")) == nil && recent.lastSeq(of: .channel("s4")) == 0)
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
