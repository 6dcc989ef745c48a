import HTTPHead
import NIOCore
import NIOHTTP1
import Testing

/// The request head parser: what it reads, what it refuses, and that it never reads past its limits.
@Suite struct RequestHeadParserTests {
    func parse(_ text: String) throws(RequestHeadParser.Failure) -> HTTPRequestHead {
        try RequestHeadParser.parse(ByteBuffer(string: text).readableBytesView)
    }

    func failure(_ text: String) -> RequestHeadParser.Failure? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    func isMalformed(_ text: String) -> Bool {
        if case .malformed = failure(text) { return true }
        return false
    }

    @Test func aHeadIsReadAsSent() throws {
        let head = try parse(
            "GET /api/events?channel=a&token=x%20y HTTP/1.1\r\nHost: example.com\r\nCookie: a=1\r\n"
                + "Cookie:b=2\r\nX-Empty:\r\nLast-Event-ID: \t 41;room=3 \t\r\n\r\n")
        #expect(head.method == .GET)
        #expect(head.uri == "/api/events?channel=a&token=x%20y")
        #expect(head.version == .http1_1)
        #expect(head.headers.first(name: "host") == "example.com")
        #expect(head.headers[canonicalForm: "cookie"] == ["a=1", "b=2"])
        #expect(head.headers.first(name: "x-empty") == "")
        #expect(head.headers.first(name: "last-event-id") == "41;room=3")
        #expect(head.headers.map(\.name) == ["Host", "Cookie", "Cookie", "X-Empty", "Last-Event-ID"])
    }

    @Test func otherMethodsAndHTTP10AreRead() throws {
        let head = try parse("M-SEARCH * HTTP/1.0\r\n\r\n")
        #expect(head.method == .RAW(value: "M-SEARCH"))
        #expect(head.uri == "*")
        #expect(head.version == .http1_0)
        #expect(head.headers.isEmpty)
    }

    @Test func aValueKeepsItsInnerBlanksAndNonASCIIBytes() throws {
        var bytes = ByteBuffer(string: "GET / HTTP/1.1\r\nX-Name: a  b\tc ")
        bytes.writeBytes([0xC3, 0xA9, 0xFF])
        bytes.writeString("\r\n\r\n")
        let head = try RequestHeadParser.parse(bytes.readableBytesView)
        #expect(head.headers.first(name: "x-name") == "a  b\tc é\u{FFFD}")
    }

    @Test func aMalformedRequestLineIsRefused() {
        for line in [
            "", "GET\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 \r\n\r\n",
            " GET / HTTP/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "GET /a b HTTP/1.1\r\n\r\n", "GET / http/1.1\r\n\r\n",
            "GET / HTTP/1.x\r\n\r\n", "GET / HTTP/1.10\r\n\r\n", "GET / HTTP/1\r\n\r\n", "GET /\u{7F} HTTP/1.1\r\n\r\n",
            "GET /é HTTP/1.1\r\n\r\n", "GET /\0 HTTP/1.1\r\n\r\n",
        ] {
            #expect(isMalformed(line), "\(line.debugDescription)")
        }
        #expect(failure("") == .malformed("The request is empty."))
    }

    @Test func otherHTTPVersionsAreNotSupported() {
        for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.0"] {
            #expect(failure("GET / \(version)\r\n\r\n") == .unsupportedVersion)
        }
    }

    @Test func malformedFieldsAreRefused() {
        for field in [
            "NoColon", ": empty-name", "Host : blank-before-colon", "Ho st: x", " Folded: line", "\tFolded: line",
            "X: a\u{1}b", "X: a\u{7F}", "X: a\0", "Bad\u{80}Name: x", "(x): y",
        ] {
            #expect(isMalformed("GET / HTTP/1.1\r\nHost: a\r\n\(field)\r\n\r\n"), "\(field.debugDescription)")
        }
    }

    @Test func linesMustEndWithCRLF() {
        for head in [
            "GET / HTTP/1.1\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\n\r\n", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n\r", "GET / HTTP/1.1\r\nHost: a",
        ] {
            #expect(isMalformed(head), "\(head.debugDescription)")
        }
    }

    @Test func theEndOfTheHeadIsFoundWhereverTheBytesSplit() throws {
        let head = "GET /ws HTTP/1.1\r\nHost: a\r\n\r\n"
        let bytes = Array(head.utf8) + Array("\u{81}\u{85}frame".utf8)
        for end in 0...bytes.count {
            let found = try RequestHeadParser.headLength(in: ByteBuffer(bytes: bytes[0..<end]).readableBytesView)
            #expect(found == (end >= head.utf8.count ? head.utf8.count : nil))
        }
        // A CR inside the ending starts it over: "\r\n\r\r\n\r\n" ends at its second CRLF CRLF.
        #expect(try RequestHeadParser.headLength(in: ByteBuffer(string: "GET / HTTP/1.1\r\n\r\r\n\r\n").readableBytesView) == 21)
    }

    @Test func aLineFeedWithoutItsCarriageReturnEndsTheSearch() {
        // A client that ends its lines with LF alone is told so, rather than left waiting.
        for head in ["GET /ws HTTP/1.1\nHost: x\n\n", "GET /ws HTTP/1.1\r\nHost: x\n", "GET /ws HTTP/1.1\r\n\n"] {
            #expect(throws: RequestHeadParser.Failure.malformed("A line does not end with CRLF.")) {
                try RequestHeadParser.headLength(in: ByteBuffer(string: head).readableBytesView)
            }
        }
    }

    @Test func aHeadArrivingInPiecesIsScannedOnceAndEndsWhereAWholeOneDoes() throws {
        let head = "GET /api/events HTTP/1.1\r\nHost: a\r\nX: \r\r\n\r\n"
        let whole = try RequestHeadParser.headLength(in: ByteBuffer(string: head + "next").readableBytesView)
        for size in 1...7 {
            var scanner = RequestHeadParser.EndScanner()
            var received = ByteBuffer()
            var found: Int?
            for piece in Array(head.utf8).chunks(of: size) {
                received.writeBytes(piece)
                if let end = try scanner.scan(received.readableBytesView) { found = end }
            }
            #expect(found == whole)
        }
        // Without an end, the scanner stops at its limit, however the bytes come.
        var scanner = RequestHeadParser.EndScanner(maxBytes: 64)
        var received = ByteBuffer()
        var failure: RequestHeadParser.Failure?
        for _ in 0..<20 {
            received.writeString("abcdefgh")
            do { _ = try scanner.scan(received.readableBytesView) } catch { failure = error; break }
        }
        #expect(failure == .tooLarge && received.readableBytes == 64)
    }

    @Test func theLimitsCanBeLowered() {
        let head = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n"
        #expect(throws: RequestHeadParser.Failure.tooLarge) {
            try RequestHeadParser.parse(ByteBuffer(string: head).readableBytesView, maxFields: 1)
        }
        #expect(throws: RequestHeadParser.Failure.tooLarge) {
            try RequestHeadParser.parse(ByteBuffer(string: head).readableBytesView, maxBytes: 20)
        }
        #expect(throws: RequestHeadParser.Failure.tooLarge) {
            try RequestHeadParser.headLength(in: ByteBuffer(string: head).readableBytesView, maxBytes: 20)
        }
        #expect((try? RequestHeadParser.parse(ByteBuffer(string: head).readableBytesView, maxBytes: head.utf8.count, maxFields: 2)) != nil)
    }

    @Test func aHeadPastItsLimitsIsTooLarge() {
        let long = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: RequestHeadParser.maxBytes) + "\r\n\r\n"
        #expect(failure(long) == .tooLarge)
        #expect(throws: RequestHeadParser.Failure.tooLarge) {
            try RequestHeadParser.headLength(in: ByteBuffer(string: long).readableBytesView)
        }
        // Without an end, the search stops at the limit rather than reading on.
        let endless = ByteBuffer(repeating: UInt8(ascii: "a"), count: RequestHeadParser.maxBytes * 4)
        #expect(throws: RequestHeadParser.Failure.tooLarge) { try RequestHeadParser.headLength(in: endless.readableBytesView) }
        let fields = (0...RequestHeadParser.maxFields).map { "X-\($0): y\r\n" }.joined()
        #expect(failure("GET / HTTP/1.1\r\n\(fields)\r\n") == .tooLarge)
        let atLimit = (1...RequestHeadParser.maxFields).map { "X-\($0): y\r\n" }.joined()
        #expect(failure("GET / HTTP/1.1\r\n\(atLimit)\r\n") == nil)
    }

    @Test func theHeadGivenMustEndWithItsEmptyLine() {
        #expect(failure("GET / HTTP/1.1\r\nHost: a\r\n") == .malformed("The head does not end with an empty line."))
        #expect(failure("GET / HTTP/1.1\r\n") == .malformed("The head does not end with an empty line."))
        #expect(failure("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n") == .malformed("Bytes follow the head's empty line."))
    }

    @Test func whatFollowsTheBlankLineIsNotPartOfTheHead() throws {
        // `parse` is given the head alone; a body or a next request after it is the caller's.
        let text = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /other HTTP/1.1\r\n\r\n"
        let view = ByteBuffer(string: text).readableBytesView
        let length = try #require(try RequestHeadParser.headLength(in: view))
        let head = try RequestHeadParser.parse(view[view.startIndex..<(view.startIndex + length)])
        #expect(head.uri == "/" && head.headers.count == 1)
    }
}

extension Array {
    func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
