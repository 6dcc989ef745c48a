import Testing

@testable import HeraldCore

/// The cluster bus's messages: whole events there and back, and what a node refuses to act on
/// (anyone who can PUBLISH on the Redis server can send one).
@Suite struct BusMessageTests {
    let event = StreamEvent(
        stream: .channel("news"),
        notification: StreamNotification(id: 9, name: "headline", json: #"{"text":"a\nb"}"#, timestamp: 1.5, seq: 3, mode: .append))

    @Test func eventsTravelWhole() throws {
        let text = BusMessage(node: "node_a", events: [event, StreamEvent(stream: .user(4), notification: event.notification)]).encoded()
        let (node, events, socketIO) = try BusMessage.decode(Array(text.utf8))
        #expect(node == "node_a" && socketIO == nil)
        #expect(events == [.event(event), .event(StreamEvent(stream: .user(4), notification: event.notification))])
    }

    @Test func socketIOBroadcastsTravelAsTheirOwnText() throws {
        let text = BusMessage(node: "node_b", socketIO: #"{"ns":"/chat","event":"e"}"#).encoded()
        let decoded = try BusMessage.decode(Array(text.utf8))
        #expect(decoded.node == "node_b" && decoded.events.isEmpty && decoded.socketIO == #"{"ns":"/chat","event":"e"}"#)
    }

    @Test func tooLargeForTheBusTheyTravelAsReferences() throws {
        let text = BusMessage(node: "node_a", events: [event], byReference: true).encoded()
        #expect(!text.contains("headline"))
        #expect(try BusMessage.decode(Array(text.utf8)).events == [.reference(.channel("news"), seq: 3)])
    }

    @Test(arguments: [
        "", "null", "[]", "{}", #"{"v": 1}"#, #"{"v": 2, "node": "n", "events": []}"#,
        #"{"v": 1, "node": "n", "events": [{"stream": "lobby", "id": 1, "seq": 1, "name": "e", "mode": "append", "data": "1", "ts": 0}]}"#,
        #"{"v": 1, "node": "n", "events": [{"stream": "user:0", "id": 1, "seq": 1, "name": "e", "mode": "append", "data": "1", "ts": 0}]}"#,
        #"{"v": 1, "node": "n", "events": [{"stream": "channel:a b", "id": 1, "seq": 1, "name": "e", "mode": "append", "data": "1", "ts": 0}]}"#,
        #"{"v": 1, "node": "n", "events": [{"stream": "user:1", "id": 1, "seq": 0, "name": "e", "mode": "append", "data": "1", "ts": 0}]}"#,
        #"{"v": 1, "node": "n", "events": [{"stream": "user:1", "id": 1, "seq": 1, "name": "", "mode": "append", "data": "1", "ts": 0}]}"#,
        #"{"v": 1, "node": "n", "events": [{"stream": "user:1", "id": 1, "seq": 1, "name": "e", "mode": "merge", "data": "1", "ts": 0}]}"#,
        #"{"v": 1, "node": "n", "events": [{"stream": "user:1", "id": "1", "seq": 1, "name": "e", "mode": "append", "data": "1", "ts": 0}]}"#,
        // Neither whole nor a bare reference.
        #"{"v": 1, "node": "n", "events": [{"stream": "user:1", "seq": 1, "name": "e"}]}"#,
        #"{"v": 1, "node": "n", "events": [{"stream": "user:1", "seq": -4}]}"#,
        String(repeating: "[", count: 100_000),
    ])
    func malformedMessagesAreRefused(_ text: String) {
        #expect(throws: BusMessageError.self) { try BusMessage.decode(Array(text.utf8)) }
    }

    @Test func oversizedMessagesAreRefusedUnread() {
        #expect(throws: BusMessageError.self) { try BusMessage.decode([UInt8](repeating: 0x20, count: BusMessage.maxBytes + 1)) }
    }

    @Test func streamNamesReadBackAsWritten() {
        for name in [StreamName.user(12), .channel("a.b-c_d")] {
            #expect(StreamName(parsing: Substring(name.description)) == name)
        }
        for text in ["user:", "user:-1", "user:x", "channel:", "channel:has space", "room:1", "USER:1"] {
            #expect(StreamName(parsing: Substring(text)) == nil)
        }
    }
}
