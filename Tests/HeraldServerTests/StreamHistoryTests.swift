import Foundation
import HeraldCore
import Synchronization
import Testing

@testable import HeraldServer

/// The history a new reader starts from, read without a task when memory holds it.
@Suite struct StreamHistoryTests {
    /// `read(_:after:then:)`, with whether its answer came before it returned.
    private func read(_ history: StreamHistory, _ streams: [StreamName], after cursors: StreamCursors) async
        -> (atOnce: Bool, result: Result<StreamHistory.Read, any Error>)
    {
        let returned = Atomic(false)
        let (atOnce, result) = await withCheckedContinuation { answered in
            history.read(streams, after: cursors) { result in answered.resume(returning: (!returned.load(ordering: .acquiring), result)) }
            returned.store(true, ordering: .releasing)
        }
        return (atOnce, result)
    }

    @Test func aStreamMemoryHoldsIsAnsweredAtOnceAndTheSameAsFromTheStore() async throws {
        let herald = try makeHerald()
        let lobby = StreamName.channel("lobby")
        for n in 1...3 {
            _ = try await herald.store.addNotification(to: lobby, name: "e", json: "\(n)", mode: .append, at: Date())
        }
        var cursors = StreamCursors()
        cursors.set(1, for: lobby)

        // The first reader's history comes from the store (which hands the stream to memory).
        let first = await read(herald.history, [lobby], after: cursors)
        #expect(!first.atOnce)
        let fromStore = try first.result.get()
        #expect(fromStore.replays.map { $0.1.notifications.map(\.seq) } == [[2, 3]])

        // The next one's, from memory, before `read` returns: no task, the same answer.
        let second = await read(herald.history, [lobby], after: cursors)
        #expect(second.atOnce)
        let fromMemory = try second.result.get()
        #expect(fromMemory.replays.map { $0.1.notifications.map(\.seq) } == [[2, 3]])
        #expect(fromMemory.replays.map { $0.1.lastSeq } == [3])
        #expect(fromMemory.cursors.seq(of: lobby) == 1)

        // A channel read without a cursor starts live at its last seq, from memory too.
        let live = try await read(herald.history, [lobby], after: StreamCursors()).result.get()
        #expect(live.cursors.seq(of: lobby) == 3)
        #expect(live.replays[0].1.notifications.isEmpty)
    }

    @Test func aCursorPastTheStreamIsRefusedFromMemoryAsFromTheStore() async throws {
        let herald = try makeHerald()
        let lobby = StreamName.channel("lobby")
        _ = try await herald.store.addNotification(to: lobby, name: "e", json: "1", mode: .append, at: Date())
        var ahead = StreamCursors()
        ahead.set(5, for: lobby)
        for expectedAtOnce in [false, true] {
            if expectedAtOnce { _ = try await read(herald.history, [lobby], after: StreamCursors()).result.get() }
            let refused = await read(herald.history, [lobby], after: ahead)
            #expect(refused.atOnce == expectedAtOnce)
            #expect(throws: HeraldError.self) { try refused.result.get() }
        }
    }

    @Test func aStreamMemoryDoesNotHoldSendsTheWholeReadToTheStore() async throws {
        let herald = try makeHerald()
        let (held, other) = (StreamName.channel("held"), StreamName.channel("other"))
        _ = try await herald.store.addNotification(to: held, name: "e", json: "1", mode: .append, at: Date())
        _ = try await herald.store.addNotification(to: other, name: "e", json: "1", mode: .append, at: Date())
        _ = try await read(herald.history, [held], after: StreamCursors()).result.get()
        let both = await read(herald.history, [held, other], after: StreamCursors())
        #expect(!both.atOnce)
        #expect(try both.result.get().replays.map(\.0) == [held, other])
    }
}
