import Foundation
import HeraldCore
import NIOCore
import RESP
import SocketIO

/// What other processes PUBLISH on Redis, turned into what Herald does with its own publishes.
/// Each message is one of:
/// - `herald:channel:NAME` with `{"name", "data", "mode"?}`: Herald's own format, for `redis-cli`.
/// - a Flask-SSE channel (`sse` by default) with `{"data", "type"?, "id"?, "retry"?}`, as
///   `flask_sse.sse.publish(data, type=…)` writes it: `type` (default `message`) names the event.
/// - the Flask-SocketIO channel (`flask-socketio`) with python-socketio's message-queue format,
///   `{"method": "emit", "event", "data": [args…], "namespace", "room", "skip_sid", …}`.
///
/// The first two, and an emit to a room of `/notifications` (whose rooms are channels), are
/// persisted to the Herald channel of that name and delivered to its readers on every transport,
/// resumable by cursor. Other emits go live to the Socket.IO sockets they name, as
/// python-socketio's own servers would.
struct RedisIngest: Sendable {
    static let heraldChannelPrefix = "herald:channel:"

    enum Action {
        case publish(Publication)
        case emit(namespace: String, room: String?, except: String?, event: String, arguments: [JSONValue])
    }

    let herald: Herald
    let flaskSSEChannels: Set<String>
    let socketIOChannel: String

    /// What a message asks for, or why it cannot be done (a message for the log).
    func action(for message: RedisMessage) throws(IngestError) -> Action {
        let text = String(buffer: message.payload)
        if message.channel.hasPrefix(Self.heraldChannelPrefix) {
            var object = try Self.object(text)
            object["channel"] = String(message.channel.dropFirst(Self.heraldChannelPrefix.count))
            return .publish(try Self.publication(object))
        }
        if flaskSSEChannels.contains(message.channel) {
            let object = try Self.object(text)
            let name = object["type"] as? String ?? "message"
            return .publish(try Self.publication(["channel": message.channel, "name": name, "data": object["data"] ?? NSNull()]))
        }
        if message.channel == socketIOChannel {
            return try emit(text)
        }
        throw IngestError("a message on \(message.channel), which Herald does not read")
    }

    func perform(_ action: Action) async throws {
        switch action {
        case .publish(let publication):
            // Every node hears it; one stores it, and the bus takes it to the others' readers.
            guard herald.leadership.isLeading else { return }
            _ = try await Publisher(herald: herald).publish(publication, by: nil, isServerKey: true)
        case .emit(let namespace, let room, let except, let event, let arguments):
            guard herald.socketIO.server.existing(namespace) != nil else {
                throw IngestError("an emit to \(namespace), which is not a namespace of this server")
            }
            // Every node hears it and emits to its own sockets: not again across the cluster.
            herald.socketIO.server.deliver(SocketIORemoteBroadcast(
                namespace: namespace, rooms: room.map { [$0] } ?? [], excluded: except.map { [$0] } ?? [],
                event: event, arguments: arguments))
        }
    }

    private func emit(_ text: String) throws(IngestError) -> Action {
        let object = try Self.object(text)
        guard object["method"] as? String == "emit" else {
            throw IngestError("a python-socketio \(object["method"] ?? "message") that is not an emit: only emits are carried out")
        }
        guard let event = object["event"] as? String else { throw IngestError("an emit without an event name") }
        if object["binary"] as? Bool == true { throw IngestError("an emit of binary data, which arrives pickled: send JSON") }
        let namespace = object["namespace"] as? String ?? "/"
        let room = object["room"] as? String
        let data = object["data"] ?? NSNull()
        let arguments = data as? [Any] ?? [data]
        if namespace == SocketIOFrames.namespace, let room {
            // One argument is the notification's data; several travel as a list.
            let payload: Any = arguments.count == 1 ? arguments[0] : arguments
            return .publish(try Self.publication(["channel": room, "name": event, "data": payload]))
        }
        // Read again as Socket.IO's own JSON, whose values go into the packet as they are
        // (it refuses nesting deeper than Socket.IO packets may be).
        guard let message = JSONValue(parsing: Substring(text)) else { throw IngestError("an emit whose arguments are not JSON") }
        let live = message["data"] ?? .null
        let values = live.arrayValue ?? [live]
        return .emit(namespace: namespace, room: room, except: object["skip_sid"] as? String, event: event, arguments: values)
    }

    private static func object(_ text: String) throws(IngestError) -> [String: Any] {
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
              let object = parsed as? [String: Any]
        else { throw IngestError("a message that is not a JSON object") }
        return object
    }

    private static func publication(_ object: [String: Any]) throws(IngestError) -> Publication {
        do {
            return try Publication(object)
        } catch let error as HeraldError {
            throw IngestError(error.message)
        } catch {
            throw IngestError("\(error)")
        }
    }
}

struct IngestError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
