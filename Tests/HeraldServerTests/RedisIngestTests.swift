import HeraldCore
import NIOCore
import RESP
import SocketIO
import Testing

@testable import HeraldServer

/// How each kind of Redis message becomes a publication or an emit, and what is refused. The
/// whole path, with a real redis-server and the real Flask publishers, is e2e/test_redis_publishers.py.
@Suite struct RedisIngestTests {
    func ingest() throws -> RedisIngest {
        RedisIngest(herald: try makeHerald(), flaskSSEChannels: ["sse", "alerts"], socketIOChannel: "flask-socketio")
    }

    func message(_ channel: String, _ payload: String) -> RedisMessage {
        RedisMessage(channel: channel, payload: ByteBuffer(string: payload))
    }

    func publication(_ action: RedisIngest.Action) -> (channel: String, name: String, json: String, mode: StreamNotification.Mode)? {
        guard case .publish(let publication) = action, case .channel(let channel) = publication.target else { return nil }
        return (channel, publication.name, publication.json, publication.mode)
    }

    @Test func heraldsOwnFormatNamesTheChannelInTheRedisChannel() throws {
        let action = try ingest().action(for: message("herald:channel:news", #"{"name": "build", "data": {"n": 1}, "mode": "replace"}"#))
        let published = try #require(publication(action))
        #expect(published.channel == "news" && published.name == "build" && published.json == #"{"n":1}"# && published.mode == .replace)
    }

    @Test func flaskSSEMessagesUseTheirTypeAsTheEventName() throws {
        let ingest = try ingest()
        let typed = try #require(publication(try ingest.action(for: message("alerts", #"{"data": {"tag": "x"}, "type": "greeting", "id": 7}"#))))
        #expect(typed.channel == "alerts" && typed.name == "greeting" && typed.json == #"{"tag":"x"}"#)
        let untyped = try #require(publication(try ingest.action(for: message("sse", #"{"data": "hi"}"#))))
        #expect(untyped.name == "message" && untyped.json == #""hi""#)
    }

    @Test func flaskSocketIOEmitsToANotificationsRoomArePersistedOthersGoLive() throws {
        let ingest = try ingest()
        let toRoom = #"{"method": "emit", "event": "ext_news", "data": [{"tag": "y"}], "binary": false, "namespace": "/notifications", "room": "news", "skip_sid": null, "callback": null, "host_id": "abc"}"#
        let persisted = try #require(publication(try ingest.action(for: message("flask-socketio", toRoom))))
        #expect(persisted.channel == "news" && persisted.name == "ext_news" && persisted.json == #"{"tag":"y"}"#)
        let several = #"{"method": "emit", "event": "pair", "data": [1, "two"], "namespace": "/notifications", "room": "news"}"#
        #expect(try #require(publication(try ingest.action(for: message("flask-socketio", several)))).json == #"[1,"two"]"#)

        let live = #"{"method": "emit", "event": "my_response", "data": [{"data": "hi"}, 2], "namespace": "/test", "room": null, "skip_sid": "s1"}"#
        guard case .emit(let namespace, let room, let except, let event, let arguments) = try ingest.action(for: message("flask-socketio", live))
        else { Issue.record("not an emit"); return }
        #expect(namespace == "/test" && room == nil && except == "s1" && event == "my_response")
        #expect(arguments == [["data": "hi"], 2])
    }

    @Test(arguments: [
        ("herald:channel:news", "not json"), ("herald:channel:news", "[1]"), ("herald:channel:news", #"{"data": 1}"#),
        ("herald:channel:news", #"{"name": "herald.reset"}"#), ("herald:channel:bad name", #"{"name": "n"}"#),
        ("herald:channel:", #"{"name": "n"}"#), ("sse", "{"), ("sse", #"{"data": 1, "type": "a b"}"#),
        ("flask-socketio", #"{"method": "enter_room", "sid": "x", "room": "r"}"#), ("flask-socketio", #"{"method": "emit"}"#),
        ("flask-socketio", #"{"method": "emit", "event": "e", "data": "gAR=", "binary": true}"#),
        ("flask-socketio", #"{"method": "emit", "event": "e", "data": [1], "namespace": "/notifications", "room": "no spaces"}"#),
        ("somewhere-else", #"{"name": "n"}"#),
    ])
    func unusableMessagesAreRefusedWithAReason(_ channel: String, _ payload: String) throws {
        let ingest = try ingest()
        #expect(throws: IngestError.self) { try ingest.action(for: message(channel, payload)) }
    }

    @Test func anEmitToANamespaceThatDoesNotExistMakesNone() async throws {
        let ingest = try ingest()
        let action = try ingest.action(for: message("flask-socketio", #"{"method": "emit", "event": "e", "data": [1], "namespace": "/made-up"}"#))
        await #expect(throws: IngestError.self) { try await ingest.perform(action) }
        #expect(ingest.herald.socketIO.server.existing("/made-up") == nil)
        #expect(ingest.herald.socketIO.server.existing("/test") != nil)
    }
}
