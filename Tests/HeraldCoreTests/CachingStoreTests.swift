import Foundation
import HeraldCore
import Testing

/// What the cache in front of every server's store answers from memory, and what it must not.
@Suite struct CachingStoreTests {
    private func withTwoStores(_ body: (_ cached: CachingStore, _ other: SQLiteStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // `other` writes the same database behind the cache's back, as the CLI or another node does.
        try await body(CachingStore(try SQLiteStore(directory: directory)), try SQLiteStore(directory: directory))
    }

    @Test func aMissIsAskedAgainSoWhatAnotherWriterMakesIsFound() async throws {
        try await withTwoStores { cached, other in
            #expect(try await cached.channel(named: "later") == nil)
            #expect(try await cached.hasAPIKey(digest: "k") == false)
            #expect(try await cached.user(accessTokenDigest: "t") == nil)
            #expect(try await cached.user(named: "ada") == nil)

            let ada = try await other.createUser(username: "ada", passwordHash: "h")
            _ = try await other.ensureChannel(named: "later", visibility: .members, at: Date())
            try await other.createAPIKey(digest: "k", label: "ci")
            try await other.createAccessToken(userID: ada.id, tokenDigest: "t", label: "cli")

            #expect(try await cached.channel(named: "later")?.visibility == .members)
            #expect(try await cached.hasAPIKey(digest: "k"))
            #expect(try await cached.user(accessTokenDigest: "t")?.id == ada.id)
            #expect(try await cached.user(named: "ada")?.id == ada.id)
            // Names are the store's, case and all, however they were asked for.
            #expect(try await cached.user(named: "ADA")?.username == "ada")
            #expect(try await cached.user(named: "ada")?.username == "ada")
        }
    }

    @Test func anExistingChannelKeepsItsVisibilityWhoeverEnsuresIt() async throws {
        try await withTwoStores { cached, other in
            _ = try await other.ensureChannel(named: "staff", visibility: .members, at: Date())
            #expect(try await cached.ensureChannel(named: "staff", visibility: .public, at: Date()).visibility == .members)
            #expect(try await cached.ensureChannel(named: "staff", visibility: .public, at: Date()).visibility == .members)
            let made = try await cached.ensureChannel(named: "new", visibility: .public, at: Date())
            #expect(try await other.channel(named: "new") == made)
        }
    }

    @Test func theCacheForgetsItsOldestHalfWhenFullAndStillAnswersFromTheStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cached = CachingStore(try SQLiteStore(directory: directory), capacity: 4)
        for index in 0..<10 { _ = try await cached.ensureChannel(named: "c\(index)", visibility: .public, at: Date()) }
        for index in 0..<10 { #expect(try await cached.channel(named: "c\(index)")?.name == "c\(index)") }
    }
}
