import Foundation
import HTTPTypes
import HeraldCore
@testable import HeraldServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite struct PublishAPITests {
    func serverKey(_ herald: Herald) async throws -> HTTPFields {
        let key = Secret.generate(prefix: ServerKey.prefix)
        try await herald.store.createAPIKey(digest: Secret.digest(key), label: "test")
        return [.authorization: "Bearer \(key)", .contentType: "application/json"]
    }

    @Test func aServerKeyPublishesToUsersAndChannelsAndGetsTheSeqs() async throws {
        try await withHerald { herald, client in
            let key = try await serverKey(herald)
            let alice = try await APIUser.create("alice", in: herald)
            _ = try await APIUser.create("bob", in: herald)
            let one = try await client.execute(
                uri: "/api/publish", method: .post, headers: key,
                body: ByteBuffer(string: #"{"user": "alice", "name": "build", "data": {"ok": true, "n": [1, 2.5]}}"#))
            #expect(one.status == .created)
            #expect(try one.json() as? [String: Int] == ["seq": 1])
            let many = try await client.execute(
                uri: "/api/publish", method: .post, headers: key,
                body: ByteBuffer(string: #"{"users": ["alice", "bob"], "name": "count", "data": 7, "mode": "replace"}"#))
            #expect(try many.json() as? [String: [String: Int]] == ["seqs": ["alice": 2, "bob": 1]])
            let channel = try await client.execute(
                uri: "/api/publish", method: .post, headers: key,
                body: ByteBuffer(string: #"{"channel": "news", "name": "headline", "data": "hi"}"#))
            #expect(try channel.json() as? [String: Int] == ["seq": 1])

            let notes = try await client.execute(uri: "/api/notifications?since=0", method: .get, headers: alice.auth)
            #expect(notes.text.contains(#""name":"build","data":{"n":[1,2.5],"ok":true}"#)
                || notes.text.contains(#""name":"build","data":{"ok":true,"n":[1,2.5]}"#))
            #expect(try await herald.store.channel(named: "news")?.visibility == .public)
        }
    }

    @Test func aUserTokenPublishesOnlyToItsOwnUser() async throws {
        try await withHerald { herald, client in
            let alice = try await APIUser.create("alice", in: herald)
            let bob = try await APIUser.create("bob", in: herald)
            let own = try await client.execute(
                uri: "/api/publish", method: .post, headers: alice.auth,
                body: ByteBuffer(string: #"{"user": "alice", "name": "note", "data": 1}"#))
            #expect(own.status == .created)
            let other = try await client.execute(
                uri: "/api/publish", method: .post, headers: alice.auth,
                body: ByteBuffer(string: #"{"users": ["alice", "bob"], "name": "note", "data": 1}"#))
            #expect(other.status == .forbidden)
            #expect(try await herald.store.lastSeq(of: try #require(try await herald.store.user(named: "bob")).stream) == 0)
            _ = bob
        }
    }

    @Test(arguments: [
        (#"{"user": "alice", "name": "x""#, 400, "invalid_json"),
        (#"[1]"#, 422, "invalid_field"),
        (#"{"name": "x", "data": 1}"#, 422, "invalid_target"),
        (#"{"user": "alice", "channel": "c", "name": "x"}"#, 422, "invalid_target"),
        (#"{"user": "alice", "data": 1}"#, 422, "missing_field"),
        (#"{"user": "alice", "name": "bad name"}"#, 422, "invalid_name"),
        (#"{"user": "alice", "name": "herald.reset"}"#, 422, "invalid_name"),
        (#"{"user": "alice", "name": "x", "mode": "upsert"}"#, 422, "invalid_mode"),
        (#"{"users": [], "name": "x"}"#, 422, "invalid_field"),
        (#"{"channel": "no spaces", "name": "x"}"#, 422, "invalid_channel"),
        (#"{"users": ["alice", "nobody"], "name": "x"}"#, 404, "unknown_user"),
    ])
    func badPublicationsAreClearErrorsAndWriteNothing(body: String, status: Int, code: String) async throws {
        try await withHerald { herald, client in
            let key = try await serverKey(herald)
            _ = try await APIUser.create("alice", in: herald)
            let response = try await client.execute(
                uri: "/api/publish", method: .post, headers: key, body: ByteBuffer(string: body))
            #expect(response.status.code == status)
            #expect(try response.errorCode() == code)
            let alice = try #require(try await herald.store.user(named: "alice"))
            #expect(try await herald.store.lastSeq(of: alice.stream) == 0)
        }
    }

    @Test func aWrongKeyIs401() async throws {
        try await withHerald { _, client in
            let response = try await client.execute(
                uri: "/api/publish", method: .post, headers: [.authorization: "Bearer hrk_wrong"],
                body: ByteBuffer(string: #"{"user": "a", "name": "x"}"#))
            #expect(response.status == .unauthorized)
            let none = try await client.execute(uri: "/api/publish", method: .post, body: ByteBuffer(string: "{}"))
            #expect(none.status == .unauthorized)
        }
    }

    @Test(arguments: [JSONBody.maxNesting - 1, JSONBody.maxNesting, JSONBody.maxNesting + 1])
    func bodiesNestTooDeepExactlyWhenFoundationSaysSo(depth: Int) async throws {
        // `depth` levels in all: the body's object and what `data` holds.
        let data = String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1)
        let body = Data(#"{"user": "a", "name": "x", "data": \#(data)}"#.utf8)
        let foundationAccepts = (try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])) != nil
        #expect(foundationAccepts == (depth <= JSONBody.maxNesting))
        try await withHerald { herald, client in
            _ = try await herald.store.createUser(username: "a", passwordHash: "!")
            let response = try await client.execute(
                uri: "/api/publish", method: .post, headers: try await serverKey(herald), body: ByteBuffer(bytes: body))
            #expect(response.status.code == (foundationAccepts ? 201 : 400))
        }
    }
}
