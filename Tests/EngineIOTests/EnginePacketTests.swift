import EngineIO
import NIOCore
import Testing

@Suite struct EnginePacketTests {
    @Test func textPacketsOfEveryType() {
        #expect(EnginePacket(text: "4hello") == .message(.text("hello")))
        #expect(EnginePacket(text: "4") == .message(.text("")))
        #expect(EnginePacket(text: "2probe") == EnginePacket(.ping, .text("probe")))
        #expect(EnginePacket(text: "2") == EnginePacket(.ping))
        #expect(EnginePacket(text: "3") == EnginePacket(.pong))
        #expect(EnginePacket(text: "1") == EnginePacket(.close))
        #expect(EnginePacket(text: "5") == EnginePacket(.upgrade))
        #expect(EnginePacket(text: "6") == EnginePacket(.noop))
        #expect(EnginePacket(.message, .text("hé")).text == "4hé")
    }

    @Test(arguments: ["", "abc", "7", "9x", "-1", " 4", "\u{1e}"])
    func malformedTextPacketsAreRefused(_ text: String) {
        #expect(EnginePacket(text: Substring(text)) == nil)
    }

    @Test func payloadsJoinPacketsWithTheRecordSeparator() throws {
        let packets = try #require(EnginePayload.decode("4hello\u{1e}bAQIDBA==\u{1e}2"))
        #expect(packets == [.message(.text("hello")), EnginePacket(binary: ByteBuffer(bytes: [1, 2, 3, 4])), EnginePacket(.ping)])
        #expect(EnginePayload.encode(packets) == "4hello\u{1e}bAQIDBA==\u{1e}2")
        #expect(EnginePayload.decode("4test1\u{1e}4test2\u{1e}4test3")?.count == 3)
    }

    @Test(arguments: ["", "abc", "4ok\u{1e}", "\u{1e}4ok", "4ok\u{1e}\u{1e}4ok", "b!!!", "bAQID=====", "4a\u{1e}zz"])
    func aPayloadWithAnyBadPacketIsRefusedWhole(_ body: String) {
        #expect(EnginePayload.decode(body) == nil)
    }

    @Test func hostilePayloadsDoNotCrash() {
        let huge = String(repeating: "4x\u{1e}", count: 50_000) + "4x"
        #expect(EnginePayload.decode(huge)?.count == 50_001)
        #expect(EnginePayload.decode("b" + String(repeating: "A", count: 1_000_001)) == nil)
        #expect(EnginePayload.decode(String(repeating: "\u{1e}", count: 10_000)) == nil)
    }

    @Test func errorsAreTheReferenceServersCodes() {
        #expect(EngineError.unknownTransport.body == #"{"code":0,"message":"Transport unknown"}"#)
        #expect(EngineError.unknownSession.body == #"{"code":1,"message":"Session ID unknown"}"#)
        #expect(EngineError.badHandshakeMethod.body == #"{"code":2,"message":"Bad handshake method"}"#)
        #expect(EngineError.badRequest.body == #"{"code":3,"message":"Bad request"}"#)
        #expect(EngineError.unsupportedProtocolVersion.body == #"{"code":5,"message":"Unsupported protocol version"}"#)
        #expect(EngineError.badRequest.status == 400)
    }
}
