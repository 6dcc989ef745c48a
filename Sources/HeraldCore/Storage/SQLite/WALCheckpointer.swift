import Dispatch
import GRDB
import Synchronization

/// Copies the write-ahead log into the database file every `interval`, on a connection and a
/// thread of its own, so that no write waits for it.
///
/// SQLite's own checkpoint runs inside the commit that takes the log past 1,000 pages, and syncs
/// the log and the file to disk there: 10–20 ms once every few hundred events, during which that
/// write and every write queued behind it wait (the maximum of every one-subscriber latency run).
/// A passive checkpoint from another connection takes no write lock: commits go on while it
/// copies and syncs. With `synchronous = NORMAL`, commits themselves never sync, so the store
/// keeps its guarantee (a crash loses at most the commits since the last sync; the database is
/// never corrupt) and the writer never touches the disk's cache flush.
final class WALCheckpointer: @unchecked Sendable {
    static let interval = DispatchTimeInterval.milliseconds(200)

    private let connection: DatabaseQueue
    private let timer: any DispatchSourceTimer
    /// The last checkpoint: frames in the log, frames copied; for tests.
    private let lastResult = Mutex<(walFrameCount: Int, checkpointedFrameCount: Int)?>(nil)

    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(1)
        connection = try DatabaseQueue(path: path, configuration: configuration)
        timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + Self.interval, repeating: Self.interval)
        timer.setEventHandler { [weak self] in self?.checkpoint() }
        timer.resume()
    }

    deinit {
        timer.cancel()
    }

    var last: (walFrameCount: Int, checkpointedFrameCount: Int)? { lastResult.withLock { $0 } }

    private func checkpoint() {
        // A checkpoint that finds the log busy copies what it can; the next one copies the rest.
        guard let result = try? connection.writeWithoutTransaction({ db in try db.checkpoint(.passive) }) else { return }
        lastResult.withLock { $0 = result }
    }
}
