import GRDB
import GRDBSQLite
import Synchronization

/// SQLite's single writer, shared: writes that arrive while a transaction is being written wait
/// and then share the next one, each in a savepoint of its own when it is not alone there.
///
/// Guarantees:
/// - Each write is atomic: a write that throws is rolled back alone (its savepoint, or the whole
///   transaction when it is alone in it), and the others of its batch commit. If SQLite cannot
///   undo it alone (the error took the transaction with it, or its savepoint cannot be rolled
///   back), the whole batch fails instead: half a write is never committed.
/// - A caller is answered only after the transaction holding its write has committed; if the
///   commit fails, every write of the batch fails with that error and none of them happened.
/// - Writes run in the order they were queued.
///
/// A commit costs far more than the statements of a small write (the journal's frames, a lock
/// taken and given back, a thread hop to and from the writer's queue), so under concurrent writes
/// one commit per batch instead of one per write is what lets a single writer keep up.
final class GroupCommit: Sendable {
    /// The most writes in one transaction, so a flood still commits (and answers) in steps.
    static let batchLimit = 256

    /// How long the writer must have been idle for a write to run on its caller's thread.
    static let quietPeriod = Duration.milliseconds(1)

    private let pool: DatabasePool
    private let queue = Mutex(Queue())
    /// How long the writer's queue waits for a lock another process holds: the pool's busy
    /// timeout, nil when it has none (then nothing waits anyway, or its own busy handler decides).
    private let busyTimeoutMilliseconds: CInt?

    private struct Queue {
        var writes: [any BatchedWrite] = []
        var draining = false
        /// When the writer last finished; meaningful while not `draining`.
        var idleSince = ContinuousClock.now

        mutating func stopDraining() {
            draining = false
            idleSince = .now
        }
    }

    init(pool: DatabasePool) {
        self.pool = pool
        if case .timeout(let seconds) = pool.configuration.busyMode {
            busyTimeoutMilliseconds = CInt(seconds * 1000)
        } else {
            busyTimeoutMilliseconds = nil
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        if let result = writeHereIfIdle(body) { return try result.get() }
        return try await withCheckedThrowingContinuation { continuation in
            let write = PendingWrite(body: body, continuation: continuation)
            let start = queue.withLock { queue in
                queue.writes.append(write)
                defer { queue.draining = true }
                return !queue.draining
            }
            if start { pool.asyncWriteWithoutTransaction { db in self.drain(db) } }
        }
    }

    /// A write that finds the writer idle, and idle for `quietPeriod`, runs on the calling
    /// thread: a lone write (one publish, one message) then costs no hop to the writer's thread
    /// and back, which was most of its latency. It never waits behind other writes (none is
    /// queued or being written), so the thread is held only for its own statements and commit;
    /// writes that arrive meanwhile queue, and the writer's thread takes them from here. Under a
    /// steady stream of writes the writer is never quiet that long, so they all queue and share
    /// commits: run here, each would commit alone, which measured 15 % fewer messages a second.
    ///
    /// The calling thread never waits for a lock: another process's write (an administration
    /// command, a backup) holding SQLite's write lock would hold the caller, an event loop with
    /// all its connections, for up to the busy timeout. Here the write does not wait at all; it
    /// goes to the writer's queue, which waits for the lock as every queued write does.
    ///
    /// Nil when the writer is busy, here or in another process.
    private func writeHereIfIdle<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) -> Result<T, any Error>? {
        let idle = queue.withLock { queue in
            guard !queue.draining, queue.idleSince.duration(to: .now) >= Self.quietPeriod else { return false }
            queue.draining = true
            return true
        }
        guard idle else { return nil }
        let write = PendingWrite(body: body)
        let failure = pool.writeWithoutTransaction { db in
            // Only a busy timeout is lifted and put back: setting one would replace a busy handler.
            guard let busyTimeoutMilliseconds else { return Self.commit(CollectionOfOne(write), in: db) }
            sqlite3_busy_timeout(db.sqliteConnection, 0)
            defer { sqlite3_busy_timeout(db.sqliteConnection, busyTimeoutMilliseconds) }
            return Self.commit(CollectionOfOne(write), in: db)
        }
        let more = queue.withLock { queue in
            if queue.writes.isEmpty { queue.stopDraining() }
            return !queue.writes.isEmpty
        }
        if more { pool.asyncWriteWithoutTransaction { db in self.drain(db) } }
        let result = write.result(failure)
        // Refused for the lock, the write was rolled back whole (it was alone in its transaction):
        // it runs again from the writer's queue.
        if case .failure(let error as DatabaseError) = result, error.resultCode == .SQLITE_BUSY { return nil }
        return result
    }

    /// On the writer's queue: batch after batch until none is waiting.
    private func drain(_ db: Database) {
        while true {
            let batch = queue.withLock { queue -> ArraySlice<any BatchedWrite> in
                let batch = queue.writes.prefix(Self.batchLimit)
                queue.writes.removeFirst(batch.count)
                if batch.isEmpty { queue.stopDraining() }
                return batch
            }
            if batch.isEmpty { return }
            let failure = Self.commit(batch, in: db)
            for write in batch { write.finish(failure) }
        }
    }

    /// Runs the writes in one transaction; the error that kept it from committing, if any.
    ///
    /// `BEGIN` and `COMMIT` are statements prepared once per connection: GRDB's `inTransaction`
    /// builds and prepares both anew for every transaction, a tenth of a lone publish's CPU.
    private static func commit(_ batch: some Collection<any BatchedWrite>, in db: Database) -> (any Error)? {
        do {
            try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
        } catch {
            return error
        }
        do {
            // A write alone in its transaction needs no savepoint: if it throws, the
            // transaction is rolled back instead. Two statements fewer for every lone write.
            let alone = batch.count == 1
            for write in batch {
                let ran = write.run(db, inSavepoint: !alone)
                if alone, ran != .wrote {
                    // The write's own error is its answer; nothing else was in the transaction.
                    try db.rollback()
                    return nil
                }
                // A write that failed and could not be undone would commit its half: the
                // batch fails as one instead.
                if ran == .failedUndone { throw DatabaseError(message: "a failed write could not be undone") }
                // Some errors (a full disk, say) make SQLite roll back the whole transaction:
                // the writes before this one are gone too, so the batch fails as one.
                guard db.isInsideTransaction else { throw DatabaseError(message: "the transaction was rolled back") }
            }
            try db.cachedStatement(sql: "COMMIT").execute()
            return nil
        } catch {
            // GRDB's rollback does nothing when SQLite already rolled back, and cannot be
            // interrupted: the connection is never left inside a transaction.
            try? db.rollback()
            return error
        }
    }
}

/// What became of a write run inside its batch's transaction.
private enum WriteRun {
    case wrote
    /// It threw, and what it wrote is undone (or the transaction is gone).
    case failed
    /// It threw, and its savepoint could not be rolled back: what it wrote is still there.
    case failedUndone
}

private protocol BatchedWrite: Sendable {
    /// Inside the batch's transaction, on the writer's queue. In a savepoint of its own unless
    /// the transaction holds it alone.
    func run(_ db: Database, inSavepoint: Bool) -> WriteRun
    /// After the transaction: `commitFailure` is why it did not commit, if it did not.
    func finish(_ commitFailure: (any Error)?)
}

/// One write and what came of it. `outcome` is written by `run` and read after the commit, on the
/// writer's queue (`finish`), or on the caller's thread for a write run there (`result`).
private final class PendingWrite<T: Sendable>: BatchedWrite, @unchecked Sendable {
    let body: @Sendable (Database) throws -> T
    /// Who waits for it: nil for a write run on its caller's thread, which reads `result` itself.
    let continuation: CheckedContinuation<T, any Error>?
    private var outcome: Result<T, any Error>?

    init(body: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, any Error>? = nil) {
        self.body = body
        self.continuation = continuation
    }

    func run(_ db: Database, inSavepoint: Bool) -> WriteRun {
        do {
            if inSavepoint {
                outcome = .success(try Self.inSavepoint(db, body))
            } else {
                outcome = .success(try body(db))
            }
            return .wrote
        } catch let failure as UndoFailed {
            outcome = .failure(failure.writeError)
            return .failedUndone
        } catch {
            outcome = .failure(error)
            return .failed
        }
    }

    /// A write failed and its savepoint could not be rolled back.
    private struct UndoFailed: Error {
        let writeError: any Error
    }

    /// `body` in a savepoint of its own, undone if it throws (or if its release does). GRDB's
    /// `inSavepoint` prepares its statements anew each time, a sixth of a message's time on the
    /// writer; these are prepared once per connection.
    private static func inSavepoint(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        try db.cachedStatement(sql: "SAVEPOINT write").execute()
        do {
            let value = try body(db)
            try db.cachedStatement(sql: "RELEASE SAVEPOINT write").execute()
            return value
        } catch {
            // A write whose error rolled back the whole transaction has no savepoint to go back
            // to: `commit` sees the transaction gone and fails the batch.
            guard db.isInsideTransaction else { throw error }
            let writeError = error
            do {
                try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT write").execute()
                try db.cachedStatement(sql: "RELEASE SAVEPOINT write").execute()
            } catch {
                throw UndoFailed(writeError: writeError)
            }
            throw writeError
        }
    }

    func result(_ commitFailure: (any Error)?) -> Result<T, any Error> {
        if let commitFailure { return .failure(commitFailure) }
        return outcome ?? .failure(DatabaseError(message: "a batched write did not run"))
    }

    func finish(_ commitFailure: (any Error)?) {
        continuation?.resume(with: result(commitFailure))
    }
}
