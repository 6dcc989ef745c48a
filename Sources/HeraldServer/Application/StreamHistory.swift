import HeraldCore

/// Reads where each stream of a reader resumes: the one cursor rule of every transport.
///
/// A stream with a cursor gets its history after it (a cursor past the stream's end is refused);
/// one without gets everything the store keeps for a user stream, and only the current states for
/// a channel, which then starts live at its current seq. A reader without a cursor has missed
/// nothing, so it is never told of a reset.
///
/// Each stream's history ends where its live events begin; the hub is told (`observe`), so that
/// events after that point reach the new reader even if they were already handed on here.
struct StreamHistory: Sendable {
    let store: any HeraldStore
    let sequencer: StreamSequencer

    /// The histories, and the cursor each stream starts from.
    func read(_ streams: [StreamName], after requested: StreamCursors) async throws
        -> (replays: [(StreamName, StreamReplay)], cursors: StreamCursors)
    {
        var replays: [(StreamName, StreamReplay)] = []
        var cursors = requested
        for stream in streams {
            let cursor = requested.seq(of: stream)
            var replay = try await store.replay(stream, after: cursor ?? 0)
            if let cursor, cursor > replay.lastSeq {
                throw HeraldError.cursorAhead(cursor, of: stream, lastSeq: replay.lastSeq)
            }
            if cursor == nil {
                replay.evictedThrough = 0
                if case .channel = stream {
                    replay.notifications = replay.notifications.filter { $0.mode == .replace }
                    cursors.set(replay.lastSeq, for: stream)
                }
            }
            if sequencer.hub.observe(stream, at: replay.lastSeq) {
                // Live events came before the history ended: the reader gets them from the store, in
                // order, while its history is written.
                await sequencer.fill(stream, after: replay.lastSeq)
            }
            replays.append((stream, replay))
        }
        return (replays, cursors)
    }
}
