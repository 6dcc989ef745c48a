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

    static let heartbeat = ByteBuffer(string: ": heartbeat\n\n")

    /// The zero-size chunk that ends a chunked body cleanly.
    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
}
