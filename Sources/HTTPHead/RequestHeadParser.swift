import NIOCore
import NIOHTTP1

/// Reads the head of an HTTP/1.x request (RFC 9112 sections 2–5): the request line and the header
/// fields, up to the blank line. For connections whose one request is read by hand (an event
/// stream, a WebSocket upgrade), where setting up a general HTTP decoder per connection costs more
/// than the rest of the request's reading.
///
/// Guarantees:
/// - A head is accepted only if it is well formed: a method of token characters, a target of
///   visible ASCII, `HTTP/1.0` or `HTTP/1.1`, each line ended by CRLF, each field a token name,
///   a colon with nothing before it, and a value without control characters (tabs allowed).
///   Line folding (a line that starts with a blank) is refused, as RFC 9112 section 5.2 lets a
///   server do.
/// - A head longer than `maxBytes`, or with more than `maxFields` fields, is refused as too large;
///   nothing is read past `maxBytes`, and no byte of a head that arrives in pieces is looked at
///   twice while its end is searched for (`EndScanner`).
/// - Field values lose the blanks around them; everything else is kept as sent, fields in order,
///   repeats included. Bytes that are not UTF-8 (obs-text) become U+FFFD, as NIO's decoder does.
public enum RequestHeadParser {
    public static let maxBytes = 16 * 1024
    public static let maxFields = 100

    public enum Failure: Error, Equatable, Sendable {
        /// Not an HTTP/1.x request head (400 Bad Request).
        case malformed(String)
        /// Past `maxBytes` or `maxFields` (431 Request Header Fields Too Large).
        case tooLarge
        /// An HTTP version other than 1.0 and 1.1 (505 HTTP Version Not Supported).
        case unsupportedVersion
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// The length of the head at the start of `bytes`, through the CRLF CRLF that ends it; nil
    /// while it is incomplete. Throws `tooLarge` once `maxBytes` are in without an end, and
    /// `malformed` at a line feed without its carriage return.
    public static func headLength(in bytes: ByteBufferView, maxBytes: Int = maxBytes) throws(Failure) -> Int? {
        var scanner = EndScanner(maxBytes: maxBytes)
        return try scanner.scan(bytes)
    }

    /// Finds the end of a head that arrives in pieces, looking at each byte once: `scan` is given
    /// everything received so far, from the head's first byte, each time more arrives.
    public struct EndScanner: Sendable {
        let maxBytes: Int
        private var scanned = 0
        private var end = HeadEnd()

        public init(maxBytes: Int = RequestHeadParser.maxBytes) {
            self.maxBytes = maxBytes
        }

        public mutating func scan(_ bytes: ByteBufferView) throws(Failure) -> Int? {
            for byte in bytes.dropFirst(scanned) {
                scanned += 1
                switch end.advance(byte) {
                case .end: return scanned
                case .bareLineFeed: throw .malformed("A line does not end with CRLF.")
                case .inHead: break
                }
                if scanned >= maxBytes { throw .tooLarge }
            }
            return nil
        }
    }

    /// Where a head's bytes stand against the CRLF CRLF that ends it, a byte at a time: the one
    /// rule of where a head ends, for the parser and for anything that only watches for it.
    public struct HeadEnd: Sendable {
        public enum Step: Sendable {
            /// Still inside the head.
            case inHead
            /// This byte ends the head.
            case end
            /// A line feed without its carriage return (the search starts over).
            case bareLineFeed
        }

        /// How much of CRLF CRLF the bytes so far end with.
        private var matched = 0

        public init() {}

        public mutating func advance(_ byte: UInt8) -> Step {
            switch (matched, byte) {
            case (0, cr), (2, cr): matched += 1
            case (1, lf), (3, lf):
                matched += 1
                if matched == 4 { return .end }
            case (_, cr): matched = 1
            case (_, lf):
                matched = 0
                return .bareLineFeed
            default: matched = 0
            }
            return .inHead
        }
    }

    /// The head in `bytes`, which hold exactly one head through its final CRLF CRLF.
    public static func parse(_ bytes: ByteBufferView, maxBytes: Int = maxBytes, maxFields: Int = maxFields)
        throws(Failure) -> HTTPRequestHead
    {
        guard bytes.count <= maxBytes else { throw .tooLarge }
        var lines = Lines(bytes)
        guard let requestLine = try lines.next() else { throw .malformed("The request is empty.") }
        let (method, target, version) = try parseRequestLine(requestLine)
        var fields: [(String, String)] = []
        while true {
            guard let line = try lines.next() else { throw .malformed("The head does not end with an empty line.") }
            if line.isEmpty { break }
            guard fields.count < maxFields else { throw .tooLarge }
            fields.append(try parseField(line))
        }
        guard lines.isAtEnd else { throw .malformed("Bytes follow the head's empty line.") }
        return HTTPRequestHead(version: version, method: method, uri: target, headers: HTTPHeaders(fields))
    }

    private static func parseRequestLine(_ line: ByteBufferView) throws(Failure) -> (HTTPMethod, String, HTTPVersion) {
        guard let firstSpace = line.firstIndex(of: UInt8(ascii: " ")) else {
            throw .malformed("The request line has no target.")
        }
        let method = line[line.startIndex..<firstSpace]
        guard !method.isEmpty, method.allSatisfy(isTokenCharacter) else {
            throw .malformed("The method is not a token.")
        }
        let rest = line[(firstSpace + 1)...]
        guard let secondSpace = rest.firstIndex(of: UInt8(ascii: " ")) else {
            throw .malformed("The request line has no version.")
        }
        let target = rest[rest.startIndex..<secondSpace]
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .malformed("The request target is empty or not visible ASCII.")
        }
        let version = try parseVersion(rest[(secondSpace + 1)...])
        return (HTTPMethod(rawValue: String(decoding: method, as: UTF8.self)), String(decoding: target, as: UTF8.self), version)
    }

    private static func parseVersion(_ text: ByteBufferView) throws(Failure) -> HTTPVersion {
        let bytes = Array(text)
        guard bytes.count == 8, bytes.starts(with: Array("HTTP/".utf8)), bytes[6] == UInt8(ascii: "."),
            isDigit(bytes[5]), isDigit(bytes[7])
        else { throw .malformed("The version is not HTTP/x.y.") }
        guard bytes[5] == UInt8(ascii: "1"), bytes[7] == UInt8(ascii: "0") || bytes[7] == UInt8(ascii: "1") else {
            throw .unsupportedVersion
        }
        return bytes[7] == UInt8(ascii: "1") ? .http1_1 : .http1_0
    }

    private static func parseField(_ line: ByteBufferView) throws(Failure) -> (String, String) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw .malformed("A header line has no colon.")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
            // Blanks before the colon included (RFC 9112 section 5.1), and folded lines.
            throw .malformed("A header name is not a token.")
        }
        var value = line[(colon + 1)...]
        while let first = value.first, isBlank(first) { value = value.dropFirst() }
        while let last = value.last, isBlank(last) { value = value.dropLast() }
        guard value.allSatisfy({ isBlank($0) || ($0 > 0x20 && $0 != 0x7F) }) else {
            throw .malformed("A header value holds a control character.")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// tchar of RFC 9110 section 5.6.2.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E...0x60, 0x7C, 0x7E:  // !#$%&'*+-.^_`|~
            return true
        default:
            return false
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// The CRLF-ended lines of a head; a bare CR or LF is refused.
    private struct Lines {
        private var rest: ByteBufferView

        init(_ bytes: ByteBufferView) { rest = bytes }

        var isAtEnd: Bool { rest.isEmpty }

        mutating func next() throws(Failure) -> ByteBufferView? {
            guard !rest.isEmpty else { return nil }
            guard let end = rest.firstIndex(where: { $0 == RequestHeadParser.cr || $0 == RequestHeadParser.lf }),
                rest[end] == RequestHeadParser.cr, rest.index(after: end) < rest.endIndex,
                rest[rest.index(after: end)] == RequestHeadParser.lf
            else { throw .malformed("A line does not end with CRLF.") }
            let line = rest[rest.startIndex..<end]
            rest = rest[(end + 2)...]
            return line
        }
    }
}
