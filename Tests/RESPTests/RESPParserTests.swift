import NIOCore
import RESP
import Testing

@Suite struct RESPParserTests {
    func parseAll(_ text: String, parser: RESPParser = RESPParser()) throws(RESPParseError) -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var values: [RESPValue] = []
        while let value = try parser.parse(&buffer) { values.append(value) }
        #expect(buffer.readableBytes == 0, "left over: \(String(buffer: buffer).debugDescription)")
        return values
    }

    func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

    @Test func everyTypeOfReply() throws {
        #expect(try parseAll("+OK\r\n") == [.simpleString("OK")])
        #expect(try parseAll("-ERR unknown command 'X'\r\n") == [.error("ERR unknown command 'X'")])
        #expect(try parseAll(":0\r\n:-42\r\n:9223372036854775807\r\n:-9223372036854775807\r\n")
            == [.integer(0), .integer(-42), .integer(.max), .integer(-.max)])
        #expect(try parseAll("$5\r\nhello\r\n$0\r\n\r\n$-1\r\n") == [bulk("hello"), bulk(""), .bulkString(nil)])
        #expect(try parseAll("*0\r\n*-1\r\n") == [.array([]), .array(nil)])
        #expect(try parseAll("*2\r\n*2\r\n:1\r\n$1\r\nx\r\n+y\r\n")
            == [.array([.array([.integer(1), bulk("x")]), .simpleString("y")])])
    }

    @Test func bulkStringsCarryAnyBytes() throws {
        var buffer = ByteBuffer(string: "$6\r\n")
        buffer.writeBytes([0, 13, 10, 0xff, 0xfe, 36])
        buffer.writeString("\r\n")
        let value = try RESPParser().parse(&buffer)
        #expect(value == .bulkString(ByteBuffer(bytes: [0, 13, 10, 0xff, 0xfe, 36])))
    }

    @Test func aPubSubMessageAsRedisSendsIt() throws {
        let payload = #"{"data": {"tag": "x"}, "type": "greeting"}"#
        let values = try parseAll("*3\r\n$7\r\nmessage\r\n$3\r\nsse\r\n$\(payload.utf8.count)\r\n\(payload)\r\n")
        #expect(values == [.array([bulk("message"), bulk("sse"), bulk(payload)])])
    }

    /// Every prefix of a reply is "not yet", consumes nothing, and the whole reply then parses.
    @Test func partialRepliesWaitForTheRest() throws {
        let text = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n*2\r\n:1\r\n$-1\r\n+after\r\n"
        let bytes = Array(text.utf8)
        let parser = RESPParser()
        for end in 0..<(bytes.count - "+after\r\n".utf8.count) {
            var buffer = ByteBuffer(bytes: bytes[..<end])
            #expect(try parser.parse(&buffer) == nil, "prefix of \(end) bytes")
            #expect(buffer.readerIndex == 0)
        }
        var buffer = ByteBuffer(bytes: bytes)
        #expect(try parser.parse(&buffer) == .array([bulk("message"), bulk("news"), .array([.integer(1), .bulkString(nil)])]))
        #expect(try parser.parse(&buffer) == .simpleString("after"))
    }

    @Test(arguments: [
        ("?x\r\n", RESPParseError.unknownType(UInt8(ascii: "?"))),
        ("%1\r\n+a\r\n+b\r\n", .unknownType(UInt8(ascii: "%"))),  // RESP3, never asked for
        ("\r\n", .unknownType(13)),
        ("+OK\rX", .malformedLine),
        (":12a\r\n", .badNumber), (":\r\n", .badNumber), (":-\r\n", .badNumber), (": 1\r\n", .badNumber),
        (":+1\r\n", .badNumber), (":99999999999999999999\r\n", .badNumber), (":9223372036854775808\r\n", .badNumber),
        ("$-2\r\n", .badNumber), ("*-5\r\n", .badNumber), ("$abc\r\n", .badNumber),
        ("$3\r\nabcd\r\n", .malformedLine), ("$2\r\nab\n\r", .malformedLine),
    ])
    func malformedRepliesAreRefused(_ text: String, _ error: RESPParseError) {
        #expect(throws: error) { try parseAll(text) }
    }

    @Test func limitsStopHostileReplies() throws {
        var limits = RESPParser.Limits()
        limits.maxLineLength = 16
        limits.maxBulkStringLength = 100
        limits.maxArrayCount = 10
        limits.maxDepth = 3
        let parser = RESPParser(limits: limits)
        #expect(throws: RESPParseError.lineTooLong) { try parseAll("+" + String(repeating: "a", count: 17), parser: parser) }
        #expect(throws: RESPParseError.lineTooLong) { try parseAll(":" + String(repeating: "1", count: 40) + "\r\n", parser: parser) }
        #expect(throws: RESPParseError.bulkStringTooLong(101)) { try parseAll("$101\r\n", parser: parser) }
        #expect(throws: RESPParseError.bulkStringTooLong(99_999)) { try parseAll("$99999\r\n", parser: parser) }
        #expect(throws: RESPParseError.arrayTooLong(11)) { try parseAll("*11\r\n", parser: parser) }
        #expect(throws: RESPParseError.nestedTooDeeply) { try parseAll("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", parser: parser) }
        #expect(try parseAll("*1\r\n*1\r\n*1\r\n:1\r\n", parser: parser) == [.array([.array([.array([.integer(1)])])])])
        // A line just under the limit is still only waiting for its end.
        var buffer = ByteBuffer(string: "+" + String(repeating: "a", count: 16))
        #expect(try parser.parse(&buffer) == nil)
    }

    /// The default limits hold against nesting deep enough to overflow a naive recursive parser.
    @Test func deepNestingIsRefusedNotRecursedInto() {
        let text = String(repeating: "*1\r\n", count: 100_000) + ":1\r\n"
        #expect(throws: RESPParseError.nestedTooDeeply) { try parseAll(text) }
    }

    @Test func anArrayClaimingMillionsOfElementsAllocatesNothingUpFront() throws {
        var buffer = ByteBuffer(string: "*1000000\r\n:1\r\n")
        #expect(try RESPParser().parse(&buffer) == nil)
    }

    @Test func commandsAreArraysOfBulkStrings() {
        let encoded = RESPCommand.encode(["PUBLISH", "herald:channel:news", #"{"name":"é"}"#])
        #expect(String(buffer: encoded) == "*3\r\n$7\r\nPUBLISH\r\n$19\r\nherald:channel:news\r\n$13\r\n{\"name\":\"é\"}\r\n")
    }
}
