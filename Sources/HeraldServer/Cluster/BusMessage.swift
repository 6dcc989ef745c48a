import Foundation
import HeraldCore

/// What one node tells the others on the Redis bus: the events it has just committed, whole
/// (stream, seq, name, data, timestamp), so a receiving node delivers them without reading the
/// database. JSON, one object per publish:
/// `{"v": 1, "node": "…", "events": [{"stream", "id", "seq", "name", "mode", "data", "ts"}]}`,
/// `data` being the notification's JSON text as a string (it is delivered exactly as stored).
struct BusMessage: Codable, Equatable {
    struct Event: Codable, Equatable {
        var stream: String
        var id: Int64
        var seq: Int64
        var name: String
        var mode: StreamNotification.Mode
        var data: String
        var ts: Double
    }

    static let version = 1
    /// Redis allows 512 MB; a bus message larger than this was not written by a Herald node.
    static let maxBytes = 16 << 20

    var v: Int
    var node: String
    var events: [Event]

    init(node: String, events: [StreamEvent]) {
        self.v = Self.version
        self.node = node
        self.events = events.map { event in
            let n = event.notification
            return Event(stream: event.stream.description, id: n.id, seq: n.seq, name: n.name, mode: n.mode, data: n.json, ts: n.timestamp)
        }
    }

    func encoded() -> String {
        // Encoding plain strings and numbers cannot fail.
        String(decoding: try! JSONEncoder().encode(self), as: UTF8.self)
    }

    /// Reads a bus message, or says why it is not one.
    static func decode(_ bytes: [UInt8]) throws(BusMessageError) -> (node: String, events: [StreamEvent]) {
        guard bytes.count <= maxBytes else { throw BusMessageError("larger than \(maxBytes) bytes") }
        let message: BusMessage
        do {
            message = try JSONDecoder().decode(BusMessage.self, from: Data(bytes))
        } catch {
            throw BusMessageError("not a bus message: \(error)")
        }
        guard message.v == version else { throw BusMessageError("version \(message.v); this node reads \(version)") }
        var events: [StreamEvent] = []
        for event in message.events {
            guard let stream = StreamName(parsing: Substring(event.stream)) else {
                throw BusMessageError("an event for \(event.stream), which is not a stream name")
            }
            guard event.seq > 0, event.ts.isFinite, !event.name.isEmpty else {
                throw BusMessageError("an event of \(event.stream) with seq \(event.seq), no name or a bad timestamp")
            }
            events.append(StreamEvent(
                stream: stream,
                notification: StreamNotification(
                    id: event.id, name: event.name, json: event.data, timestamp: event.ts, seq: event.seq, mode: event.mode)))
        }
        return (message.node, events)
    }
}

struct BusMessageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
