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
    /// The streams memory holds (a single node), read without waiting.
    let recent: RecentEvents?

    /// The histories, and the cursor each stream starts from.
    struct Read: Sendable {
        var replays: [(StreamName, StreamReplay)] = []
        var cursors: StreamCursors
    }

    /// The histories, and the cursor each stream starts from.
    func read(_ streams: [StreamName], after requested: StreamCursors) async throws -> Read {
        var read = Read(cursors: requested)
        for stream in streams {
            let replay = try await store.replay(stream, after: requested.seq(of: stream) ?? 0)
            if try add(stream, replay, requested: requested, to: &read) {
                await sequencer.fill(stream, after: read.replays.last!.1.lastSeq)
            }
        }
        return read
    }

    /// `read`, handed to `done`: at once, on the caller's thread, when memory holds every stream
    /// (a reader connecting to a stream that is being read needs no task and no thread of the
    /// pool); otherwise from a task, once the store has answered.
    func read(_ streams: [StreamName], after requested: StreamCursors, then done: @escaping @Sendable (Result<Read, any Error>) -> Void) {
        if let recent {
            var held: [StreamReplay] = []
            for stream in streams {
                guard let replay = recent.replay(stream, after: requested.seq(of: stream) ?? 0) else { break }
                held.append(replay)
            }
            if held.count == streams.count {
                var read = Read(cursors: requested)
                var fills: [(StreamName, Int64)] = []
                do {
                    for (stream, replay) in zip(streams, held) where try add(stream, replay, requested: requested, to: &read) {
                        fills.append((stream, read.replays.last!.1.lastSeq))
                    }
                } catch {
                    return done(.failure(error))
                }
                guard !fills.isEmpty else { return done(.success(read)) }
                let (sequencer, filled) = (sequencer, read)
                Task {
                    for (stream, seq) in fills { await sequencer.fill(stream, after: seq) }
                    done(.success(filled))
                }
                return
            }
        }
        Task {
            do {
                done(.success(try await read(streams, after: requested)))
            } catch {
                done(.failure(error))
            }
        }
    }

    /// Adds `stream`'s history to `read`; true when live events came before the history ended and
    /// the reader must get them from the store (`StreamSequencer.fill`), in order, while its
    /// history is written.
    private func add(_ stream: StreamName, _ replay: StreamReplay, requested: StreamCursors, to read: inout Read) throws -> Bool {
        var replay = replay
        let cursor = requested.seq(of: stream)
        if let cursor, cursor > replay.lastSeq {
            throw HeraldError.cursorAhead(cursor, of: stream, lastSeq: replay.lastSeq)
        }
        if cursor == nil {
            replay.evictedThrough = 0
            if case .channel = stream {
                replay.notifications = replay.notifications.filter { $0.mode == .replace }
                read.cursors.set(replay.lastSeq, for: stream)
            }
        }
        read.replays.append((stream, replay))
        return sequencer.hub.observe(stream, at: replay.lastSeq)
    }
}
