import Foundation
import HeraldCore
import HeraldPostgres
import PostgresNIO
import Synchronization
import Testing

/// What only the PostgreSQL store has to show: several nodes on one database.
@Suite struct PostgresStoreTests {
    @Test func nodesStartingTogetherMigrateOnce() async throws {
        let url = try await TestDatabase.create()
        try await PostgresPool.running { pools in
            let stores = (0..<3).map { _ in PostgresStore(url: try! PostgresURL(url)) }
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for store in stores {
                    _ = try await pools.adopt(store)
                    group.addTask { try await store.migrate() }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(applied.filter { !$0.isEmpty }.count == 1)
            #expect(try await stores[0].appliedMigrations() == applied.first { !$0.isEmpty })
        }
    }

    /// The seq guarantee of a stream written through two nodes at once: a reader following it by
    /// cursor must find every seq after its cursor, in order. A seq committed before a smaller one
    /// would let the reader's cursor pass the smaller one, which it would then never see.
    @Test func aReaderNeverSeesASmallerSeqAfterALargerOneWithWritersOnTwoNodes() async throws {
        let url = try await TestDatabase.create()
        try await PostgresPool.running { pools in
            let nodeA = try await pools.open(url, retention: Retention())
            let nodeB = try await pools.open(url, retention: Retention())
            let stream = StreamName.channel("race")
            let writers = 8, perWriter = 40
            let done = Atomic<Bool>(false)
            async let seen: [Int64] = {
                var cursor: Int64 = 0
                var seen: [Int64] = []
                while true {
                    let finished = done.load(ordering: .acquiring)
                    let batch = try await nodeB.notifications(in: stream, after: .seq(cursor), limit: 1000)
                    seen += batch.map(\.seq)
                    cursor = batch.last?.seq ?? cursor
                    if finished && batch.isEmpty { return seen }
                }
            }()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    let node = writer.isMultiple(of: 2) ? nodeA : nodeB
                    group.addTask {
                        for n in 0..<perWriter {
                            _ = try await node.addNotification(
                                to: [stream, .user(Int64(writer))], name: "e", json: "\(n)", mode: .append, at: Date())
                        }
                    }
                }
                try await group.waitForAll()
            }
            done.store(true, ordering: .releasing)
            #expect(try await seen == Array(1...Int64(writers * perWriter)))
        }
    }

    @Test func aDatabaseOutOfReachIsUnavailableNotAnError() async throws {
        // A port nothing listens on: the server is down.
        try await PostgresPool.running { pools in
            let store = try await pools.adopt(PostgresStore(url: try PostgresURL("postgres://herald@127.0.0.1:1/herald?sslmode=disable")))
            await #expect(throws: StoreError.unavailable) { try await store.checkHealth() }
            await #expect(throws: StoreError.unavailable) {
                try await store.addNotification(to: .user(1), name: "e", json: "1", mode: .append, at: Date())
            }
        }
    }

    @Test func databaseURLsAreReadAndTheirPasswordsMasked() throws {
        let url = try PostgresURL("postgres://herald:s3cret@db.example:6432/herald?sslmode=disable")
        #expect(url.description == "postgres://herald:***@db.example:6432/herald")
        #expect(url.configuration.port == 6432 && url.configuration.password == "s3cret")
        #expect(!url.description.contains("s3cret"))
        #expect(throws: PostgresURLError.self) { try PostgresURL("mysql://x@y/z") }
        #expect(throws: PostgresURLError.self) { try PostgresURL("postgres://host-only") }
        #expect(throws: PostgresURLError.self) { try PostgresURL("postgres://u@h/d?sslmode=sometimes") }
    }
}
