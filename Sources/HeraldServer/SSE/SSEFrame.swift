import Foundation
import HeraldCore
import NIOCore

/// The Server-Sent Events wire format (WHATWG HTML, "Server-sent events").
enum SSEFrame {
    /// Every event with its `id:` line: for connections that read a single stream, where the
    /// stream's seq is the whole cursor.
    static let withID = EventEncoding(id: "sse+id") { event in
        frame(id: String(event.notification.seq), name: event.notification.name, data: event.notification.json)
    }

    /// Events without `id:`: multi-stream connections write their own composite id first.
    static let withoutID = EventEncoding(id: "sse") { event in
        frame(id: nil, name: event.notification.name, data: event.notification.json)
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
}
