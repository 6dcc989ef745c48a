import Foundation

/// What one node tells the others on the bus between them: the events it has just committed,
/// whole (stream, seq, name, data, timestamp), so a receiving node delivers them without reading
/// the database. JSON, one object per publish:
/// `{"v": 1, "node": "…", "events": [{"stream", "id", "seq", "name", "mode", "data", "ts"}]}`,
/// `data` being the notification's JSON text as a string (it is delivered exactly as stored).
/// Where a message would be too large for the bus (NOTIFY carries 8,000 bytes), events travel
/// as references, `{"stream", "seq"}` alone, and the receiver reads them from the store.
/// A message may instead carry a Socket.IO broadcast (`"socketio"`, its own JSON text, with no
/// events), which is live only: nothing of it is stored.
struct BusMessage: Codable, Equatable {
    struct Event: Codable, Equatable {
        var stream: String
        var seq: Int64
        var id: Int64?
        var name: String?
        var mode: StreamNotification.Mode?
        var data: String?
        var ts: Double?
    }

    /// An event as the receiver can act on it.
    enum Arrival: Equatable {
        case event(StreamEvent)
        /// Only where it is: read it from the store.
        case reference(StreamName, seq: Int64)
    }

    static let version = 1
    static var maxBytes: Int { BusMessageLimits.maxBytes }

    /// A request to one node and its answer (`to` names the node): live only, never stored.
    struct Call: Codable, Equatable {
        var id: String
        var reply: Bool
        var body: String
    }

    var v: Int
    var node: String
    var events: [Event]
    var socketio: String?
    var to: String?
    var call: Call?

    init(node: String, events: [StreamEvent], byReference: Bool = false) {
        self.v = Self.version
        self.node = node
        self.events = events.map { event in
            let n = event.notification
            if byReference { return Event(stream: event.stream.description, seq: n.seq) }
            return Event(stream: event.stream.description, seq: n.seq, id: n.id, name: n.name, mode: n.mode, data: n.json, ts: n.timestamp)
        }
    }

    init(node: String, socketIO: String) {
        self.v = Self.version
        self.node = node
        self.events = []
        self.socketio = socketIO
    }

    init(node: String, to: String, call: Call) {
        self.v = Self.version
        self.node = node
        self.events = []
        self.to = to
        self.call = call
    }

    func encoded() -> String {
        // Encoding plain strings and numbers cannot fail.
        String(decoding: try! JSONEncoder().encode(self), as: UTF8.self)
    }

    /// Reads a bus message, or says why it is not one.
    static func decode(_ bytes: [UInt8]) throws(BusMessageError) -> (node: String, events: [Arrival], socketIO: String?) {
        let (message, events) = try decodeWhole(bytes)
        return (message.node, events, message.socketio)
    }

    /// The message, and its events as the receiver acts on them.
    static func decodeWhole(_ bytes: [UInt8]) throws(BusMessageError) -> (message: BusMessage, events: [Arrival]) {
        guard bytes.count <= maxBytes else { throw BusMessageError("larger than \(maxBytes) bytes") }
        let message: BusMessage
        do {
            message = try JSONDecoder().decode(BusMessage.self, from: Data(bytes))
        } catch {
            throw BusMessageError("not a bus message: \(error)")
        }
        guard message.v == version else { throw BusMessageError("version \(message.v); this node reads \(version)") }
        var events: [Arrival] = []
        for event in message.events {
            guard let stream = StreamName(parsing: Substring(event.stream)) else {
                throw BusMessageError("an event for \(event.stream), which is not a stream name")
            }
            guard event.seq > 0 else { throw BusMessageError("an event of \(event.stream) with seq \(event.seq)") }
            switch (event.id, event.name, event.mode, event.data, event.ts) {
            case (nil, nil, nil, nil, nil):
                events.append(.reference(stream, seq: event.seq))
            case (let id?, let name?, let mode?, let data?, let ts?) where !name.isEmpty && ts.isFinite:
                events.append(.event(StreamEvent(
                    stream: stream,
                    notification: StreamNotification(id: id, name: name, json: data, timestamp: ts, seq: event.seq, mode: mode))))
            default:
                throw BusMessageError("an event of \(event.stream) at \(event.seq) that is neither whole nor a reference")
            }
        }
        return (message, events)
    }
}

struct BusMessageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

public enum BusMessageLimits {
    /// Redis allows 512 MB; a bus message larger than this was not written by a Herald node.
    public static let maxBytes = 16 << 20
}
