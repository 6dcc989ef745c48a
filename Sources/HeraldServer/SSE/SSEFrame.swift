import Foundation
import HeraldCore
import NIOCore

/// The Server-Sent Events wire format (WHATWG HTML, "Server-sent events").
enum SSEFrame {
    /// The encoding for a connection: events with their `id:` line for connections that read a
    /// single stream (its seq is the whole cursor), without it for multi-stream connections (they
    /// write their own composite id first); each as an HTTP/1.1 chunk, or bare for HTTP/1.0.
    static func encoding(singleStream: Bool, chunked: Bool) -> EventEncoding {
        switch (singleStream, chunked) {
        case (true, true): withIDChunked
        case (true, false): withID
        case (false, true): withoutIDChunked
        case (false, false): withoutID
        }
    }

    static let withID = EventEncoding(id: "sse+id", transport: "sse") { event in
        frame(id: String(event.notification.seq), name: event.notification.name, data: event.notification.json)
    }
    static let withoutID = EventEncoding(id: "sse", transport: "sse") { event in
        frame(id: nil, name: event.notification.name, data: event.notification.json)
    }
    static let withIDChunked = EventEncoding(id: "sse+id/chunked", transport: "sse") { event in chunk(withID.encode(event)) }
    static let withoutIDChunked = EventEncoding(id: "sse/chunked", transport: "sse") { event in chunk(withoutID.encode(event)) }

    /// `bytes` as one HTTP/1.1 chunk: its size in hex, the bytes, CRLF.
    static func chunk(_ bytes: ByteBuffer) -> ByteBuffer {
        var framed = ByteBuffer(string: String(bytes.readableBytes, radix: 16) + "\r\n")
        framed.writeImmutableBuffer(bytes)
        framed.writeString("\r\n")
        return framed
    }

    static func frame(id: String?, name: String, data: String) -> ByteBuffer {
        var text = ""
        text.reserveCapacity(data.utf8.count + name.utf8.count + 32)
        if let id { text += "id: \(id)\n" }
        text += "event: \(name)\n"
        // A line break (CRLF, CR or LF) inside data would end the field: each line gets its own
        // `data:`. Scalars, not Characters: "\r\n" is a single Character in Swift.
        let normalized = data.utf8.contains(UInt8(ascii: "\r")) ? data.replacingOccurrences(of: "\r\n", with: "\n")
            .replacingOccurrences(of: "\r", with: "\n") : data
        for line in normalized.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            text += "data: "
            text.unicodeScalars.append(contentsOf: line)
            text += "\n"
        }
        text += "\n"
        return ByteBuffer(string: text)
    }

    static func id(_ id: String) -> ByteBuffer {
        ByteBuffer(string: "id: \(id)\n")
    }

    /// The most `writeID` writes for `streams`.
    static func maxIDLength(_ cursors: StreamCursors, for streams: [StreamName]) -> Int {
        chunkOverhead + 5 + cursors.maxLength(for: streams)
    }

    /// A multi-stream reader's `id: 17;lobby=5` line written at the start of `bytes` (at least
    /// `maxIDLength` of them), as its own HTTP/1.1 chunk when `chunked`; returns its length.
    /// Written in place for every event, with no string or buffer made on the way.
    static func writeID(_ cursors: StreamCursors, for streams: [StreamName], chunked: Bool, into bytes: UnsafeMutableRawBufferPointer) -> Int {
        func line(at start: Int) -> Int {
            for (offset, byte) in "id: ".utf8.enumerated() { bytes[start + offset] = byte }
            let end = start + 4 + cursors.write(for: streams, to: UnsafeMutableRawBufferPointer(rebasing: bytes[(start + 4)...]))
            bytes[end] = UInt8(ascii: "\n")
            return end + 1 - start
        }
        guard chunked else { return line(at: 0) }
        // The chunk's size goes first, so the line is written after the room its longest size
        // needs, and moved closer if its size takes fewer digits.
        let reserved = hexDigits(maxIDLength(cursors, for: streams))
        let length = line(at: reserved + 2)
        let digits = hexDigits(length)
        if digits != reserved {
            UnsafeMutableRawPointer(bytes.baseAddress! + digits + 2).copyMemory(from: bytes.baseAddress! + reserved + 2, byteCount: length)
        }
        var rest = length
        for place in stride(from: digits - 1, through: 0, by: -1) {
            bytes[place] = hex[rest & 0xF]
            rest >>= 4
        }
        bytes[digits] = UInt8(ascii: "\r")
        bytes[digits + 1] = UInt8(ascii: "\n")
        bytes[digits + 2 + length] = UInt8(ascii: "\r")
        bytes[digits + 3 + length] = UInt8(ascii: "\n")
        return digits + 4 + length
    }

    /// A chunk's size line and closing CRLF, at most (16 hex digits).
    private static let chunkOverhead = 20
    private static let hex = Array("0123456789abcdef".utf8)

    private static func hexDigits(_ value: Int) -> Int {
        max(1, (Int.bitWidth - value.leadingZeroBitCount + 3) / 4)
    }

    static let heartbeat = ByteBuffer(string: ": heartbeat\n\n")

    /// The zero-size chunk that ends a chunked body cleanly.
    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
}
