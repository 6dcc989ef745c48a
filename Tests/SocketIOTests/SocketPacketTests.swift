import EngineIO
import NIOCore
import Testing

@testable import SocketIO

@Suite struct SocketPacketTests {
    func decode(_ text: String) throws -> SocketPacket? {
        var decoder = SocketPacketDecoder()
        return try decoder.decode(.text(text))
    }

    @Test func theSpecsExamplesDecode() throws {
        #expect(try decode("0") == SocketPacket(.connect))
        #expect(try decode(#"0/admin,{"token":"123"}"#) == SocketPacket(.connect, namespace: "/admin", data: ["token": "123"]))
        #expect(try decode("1/admin,") == SocketPacket(.disconnect, namespace: "/admin"))
        #expect(try decode(#"2["hello",1]"#) == SocketPacket(.event, data: ["hello", 1]))
        #expect(try decode(#"2/admin,456["project:delete",123]"#) == SocketPacket(.event, namespace: "/admin", id: 456, data: ["project:delete", 123]))
        #expect(try decode("3/admin,456[]") == SocketPacket(.ack, namespace: "/admin", id: 456, data: []))
        #expect(try decode(#"4{"message":"Not authorized"}"#) == SocketPacket(.connectError, data: ["message": "Not authorized"]))
        #expect(try decode("0/custom") == SocketPacket(.connect, namespace: "/custom"))
    }

    @Test func binaryPacketsWaitForTheirAttachments() throws {
        var decoder = SocketPacketDecoder()
        #expect(try decoder.decode(.text(#"52-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)) == nil)
        #expect(try decoder.decode(.binary(ByteBuffer(bytes: [1, 2, 3]))) == nil)
        let packet = try decoder.decode(.binary(ByteBuffer(bytes: [4])))
        #expect(packet == SocketPacket(.event, data: ["hello", .binary(ByteBuffer(bytes: [1, 2, 3])), .binary(ByteBuffer(bytes: [4]))]))
        #expect(try decoder.decode(.text("61-/admin,456[{\"_placeholder\":true,\"num\":0}]")) == nil)
        #expect(try decoder.decode(.binary(ByteBuffer(bytes: [9]))) == SocketPacket(.ack, namespace: "/admin", id: 456, data: [.binary(ByteBuffer(bytes: [9]))]))
    }

    @Test func encodingPutsBinaryInAttachments() {
        let packet = SocketPacket(.ack, namespace: "/x", id: 789, data: [.binary(ByteBuffer(bytes: [1])), .binary(ByteBuffer(bytes: [2]))])
        #expect(packet.encoded() == [
            .text(#"62-/x,789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
            .binary(ByteBuffer(bytes: [1])), .binary(ByteBuffer(bytes: [2])),
        ])
        #expect(SocketPacket(.event, data: ["message-back", 1, "2", ["3": [true]]]).encoded() == [.text(#"2["message-back",1,"2",{"3":[true]}]"#)])
        #expect(SocketPacket(.connect, namespace: "/custom", data: ["sid": "abc"]).encoded() == [.text(#"0/custom,{"sid":"abc"}"#)])
    }

    @Test(arguments: [
        ("abc", SocketPacketError.unknownType), ("", .unknownType), ("7[]", .unknownType),
        ("2{}", .badPayload), ("2[]", .badPayload), ("2[1,", .badPayload), (#"2abc["x"]"#, .badPayload),
        (#"2["connect"]"#, .badPayload), (#"2["disconnect",1]"#, .badPayload), ("2[null]", .badPayload),
        ("1{}", .badPayload), ("0[]", .badPayload), ("3{}", .badPayload), ("4[]", .badPayload),
        (#"5x-["a"]"#, .badAttachmentCount), (#"5["a"]"#, .badAttachmentCount), (#"5-1-["a"]"#, .badAttachmentCount),
        (#"5999-["a"]"#, .tooManyAttachments), (#"21234567890123456789["a"]"#, .badAckID),
    ])
    func malformedPacketsAreRefused(_ text: String, _ expected: SocketPacketError) {
        #expect(throws: expected) { try decode(text) }
    }

    @Test func attachmentsThatDoNotFitAreRefused() throws {
        var decoder = SocketPacketDecoder()
        #expect(throws: SocketPacketError.unexpectedAttachment) { try decoder.decode(.binary(ByteBuffer(bytes: [1]))) }
        #expect(try decoder.decode(.text(#"51-["a",{"_placeholder":true,"num":5}]"#)) == nil)
        #expect(throws: SocketPacketError.badPlaceholder) { try decoder.decode(.binary(ByteBuffer(bytes: [1]))) }
        var other = SocketPacketDecoder()
        #expect(try other.decode(.text(#"51-["a",{"_placeholder":true,"num":0}]"#)) == nil)
        #expect(throws: SocketPacketError.unexpectedAttachment) { try other.decode(.text(#"2["a"]"#)) }
    }
}
