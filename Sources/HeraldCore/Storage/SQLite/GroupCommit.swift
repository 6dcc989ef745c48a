import GRDB
import Synchronization

/// SQLite's single writer, shared: writes that arrive while a transaction is being written wait
/// and then share the next one, each in a savepoint of its own.
///
/// Guarantees:
/// - Each write is atomic: a write that throws is rolled back alone (its savepoint), and the
///   others of its batch commit.
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

    private let pool: DatabasePool
    private let queue = Mutex<(writes: [any BatchedWrite], draining: Bool)>(([], false))

    init(pool: DatabasePool) {
        self.pool = pool
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let write = QueuedWrite(body: body, continuation: continuation)
            let start = queue.withLock { queue in
                queue.writes.append(write)
                defer { queue.draining = true }
                return !queue.draining
            }
            if start { pool.asyncWriteWithoutTransaction { db in self.drain(db) } }
        }
    }

    /// On the writer's queue: batch after batch until none is waiting.
    private func drain(_ db: Database) {
        while true {
            let batch = queue.withLock { queue -> ArraySlice<any BatchedWrite> in
                let batch = queue.writes.prefix(Self.batchLimit)
                queue.writes.removeFirst(batch.count)
                if batch.isEmpty { queue.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            var failure: (any Error)?
            do {
                try db.inTransaction(.immediate) {
                    for write in batch {
                        write.run(db)
                        // Some errors (a full disk, say) make SQLite roll back the whole transaction:
                        // the writes before this one are gone too, so the batch fails as one.
                        guard db.isInsideTransaction else { throw DatabaseError(message: "the transaction was rolled back") }
                    }
                    return .commit
                }
            } catch {
                failure = error
            }
            for write in batch { write.finish(failure) }
        }
    }
}

private protocol BatchedWrite: Sendable {
    /// Inside the batch's transaction, on the writer's queue.
    func run(_ db: Database)
    /// After the transaction: `commitFailure` is why it did not commit, if it did not.
    func finish(_ commitFailure: (any Error)?)
}

/// `outcome` is written by `run` and read by `finish`, both on the writer's queue, one after the other.
private final class QueuedWrite<T: Sendable>: BatchedWrite, @unchecked Sendable {
    let body: @Sendable (Database) throws -> T
    let continuation: CheckedContinuation<T, any Error>
    var outcome: Result<T, any Error>?

    init(body: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        self.body = body
        self.continuation = continuation
    }

    func run(_ db: Database) {
        do {
            var value: T?
            try db.inSavepoint {
                value = try body(db)
                return .commit
            }
            outcome = value.map { .success($0) }
        } catch {
            outcome = .failure(error)
        }
    }

    func finish(_ commitFailure: (any Error)?) {
        if let commitFailure {
            continuation.resume(throwing: commitFailure)
        } else if let outcome {
            continuation.resume(with: outcome)
        } else {
            continuation.resume(throwing: DatabaseError(message: "a batched write did not run"))
        }
    }
}
