import Foundation
import HeraldCore
import NIOCore

/// Herald's WebSocket protocol for one connection: JSON commands in, acks, errors and events out.
///
/// Commands (`id` is echoed back in the ack or error; any JSON value):
/// `{"type":"auth","token":…}`, `{"type":"subscribe","stream":"user"|"channel:NAME","since":N}`,
/// `{"type":"unsubscribe","stream":…}`, `{"type":"publish","channel"|"user":…,"name":…,"data":…,"mode":…}`,
/// `{"type":"ping"}`. Every refusal is an error frame; the connection stays open.
final class WebSocketSession: @unchecked Sendable {
    private let herald: Herald
    private let subscriber: WebSocketSubscriber
    /// Touched only by the connection's handler task, one command at a time.
    private var user: User?
    /// Set when a connection token (JWT) authenticated: what it may read, until when.
    private var grant: ConnectionGrant?
    private let channel: any NIOCore.Channel
    private var streams: Set<StreamName> = []

    init(herald: Herald, channel: any NIOCore.Channel, user: User?, grant: ConnectionGrant? = nil, pings: Bool = false) {
        self.herald = herald
        self.channel = channel
        self.grant = grant
        if let grant { EventStreams.cut(channel, at: grant.expiresAt) }
        self.subscriber = WebSocketSubscriber(channel: channel, pings: pings, metrics: herald.metrics)
        self.user = user
        herald.metrics.opened(.ws)
    }

    func handle(_ text: String) async {
        var id = "null"
        do {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                throw HeraldError.badRequest("A command is a JSON object.", code: "invalid_json")
            }
            if let raw = object["id"], let encoded = try? JSONSerialization.data(withJSONObject: raw, options: [.fragmentsAllowed]) {
                id = String(decoding: encoded, as: UTF8.self)
            }
            guard let type = object["type"] as? String else {
                throw HeraldError.badRequest("A command has a type.", code: "unknown_type")
            }
            try await run(type, object, text: text, id: id)
        } catch let error as HeraldError {
            subscriber.send(WebSocketFrames.error(id, error))
        } catch {
            subscriber.send(WebSocketFrames.error(id, .internal))
        }
    }

    func refuse(_ error: HeraldError) {
        subscriber.send(WebSocketFrames.error("null", error))
    }

    func close() {
        herald.hub.unsubscribeAll(subscriber)
        herald.metrics.closed(.ws)
    }

    func pongReceived() {
        subscriber.pongReceived()
    }

    func goAway() {
        subscriber.shutdown()
    }

    private func run(_ type: String, _ object: [String: Any], text: String, id: String) async throws {
        switch type {
        case "ping":
            subscriber.send(WebSocketFrames.ack(id, ["pong": "true"]))
        case "auth":
            try await authenticate(object, id: id)
        case "subscribe":
            try await subscribe(object, text: text, id: id, user: try signedIn())
        case "unsubscribe":
            let stream = try stream(in: object, for: try signedIn())
            herald.hub.unsubscribe(subscriber, from: [stream])
            streams.remove(stream)
            subscriber.stop(stream)
            subscriber.send(WebSocketFrames.ack(id))
        case "publish":
            let user = try signedIn()
            if grant != nil { throw HeraldError.readOnlyToken }
            switch try await Publisher(herald: herald).publish(try Publication(object), by: user, isServerKey: false) {
            case .seq(let seq): subscriber.send(WebSocketFrames.ack(id, ["seq": String(seq)]))
            case .seqs: subscriber.send(WebSocketFrames.ack(id))
            }
        default:
            throw HeraldError.badRequest("Unknown command \(type).", code: "unknown_type")
        }
    }

    private func signedIn() throws -> User {
        guard let user else {
            throw HeraldError.unauthorized("Authenticate first: {\"type\":\"auth\",\"token\":…}.")
        }
        return user
    }

    private func authenticate(_ object: [String: Any], id: String) async throws {
        guard user == nil else { throw HeraldError.badRequest("Already authenticated.", code: "already_authenticated") }
        guard let token = object["token"] as? String, !token.isEmpty else {
            throw HeraldError.unauthorized("The access token is not valid.")
        }
        let (identified, credential) = try await herald.authenticator.identify(token: token)
        guard let found = identified else { throw HeraldError.unauthorized("A server key reads no stream: use a user's token.") }
        if case .connectionToken(let granted) = credential {
            grant = granted
            EventStreams.cut(channel, at: granted.expiresAt)
        }
        user = found
        subscriber.send(WebSocketFrames.ack(id, ["user": JSONResponse.quoted(found.username)]))
    }

    /// The typed part of a subscribe command: JSONDecoder refuses 1.5, "3" and true for a cursor.
    private struct SubscribeCursor: Decodable {
        var since: Int64?
    }

    private func subscribe(_ object: [String: Any], text: String, id: String, user: User) async throws {
        let stream = try stream(in: object, for: user)
        if case .channel(let name) = stream { _ = try await ChannelAccess(store: herald.store).readable(name, by: user, grant: grant) }
        let cursor: Int64?
        do {
            // Decoded a second time only when there is a cursor to read: a first subscribe has none.
            let given = object["since"].map { !($0 is NSNull) } ?? false
            cursor = given ? try JSONDecoder().decode(SubscribeCursor.self, from: Data(text.utf8)).since : nil
        } catch {
            throw HeraldError.badRequest("since must be a whole number from 0.", code: "invalid_cursor")
        }
        if let cursor, cursor < 0 {
            throw HeraldError.badRequest("since must be a whole number from 0.", code: "invalid_cursor")
        }
        try await subscribe(stream, from: cursor, id: id, user: user)
    }

    /// Subscribes the streams named in the upgrade's URL (`WebSocketOpening`), in order, as
    /// `subscribe` commands whose `id` is null would. `WebSocketOpening` has checked the user may
    /// read them.
    func subscribe(_ opening: WebSocketOpening) async {
        guard let user else { return }
        for stream in opening.streams {
            do {
                try await subscribe(stream, from: opening.cursors.seq(of: stream), id: "null", user: user)
            } catch {
                subscriber.send(WebSocketFrames.error("null", (error as? HeraldError) ?? .internal))
            }
        }
    }

    /// Subscribes a stream the user may read.
    private func subscribe(_ stream: StreamName, from cursor: Int64?, id: String, user: User) async throws {
        if streams.contains(stream) {
            herald.hub.unsubscribe(subscriber, from: [stream])
        } else {
            try herald.limits.checkStreams(streams.count + 1)
        }
        subscriber.prepare(stream)
        herald.hub.subscribe(subscriber, to: [stream])
        // A connection that closed before this subscription was made is not kept by the hub:
        // `close` has run (it let go of every stream it knew of), or will once it sees the close.
        if !channel.isActive { herald.hub.unsubscribeAll(subscriber) }
        streams.insert(stream)
        do {
            var requested = StreamCursors()
            if let cursor { requested.set(cursor, for: stream) }
            let history = try await herald.history.read([stream], after: requested)
            let replay = history.replays[0].1
            let start = history.cursors.seq(of: stream) ?? 0
            let ack = WebSocketFrames.ack(
                id, ["stream": JSONResponse.quoted(WebSocketFrames.label(stream)), "seq": String(replay.lastSeq)])
            subscriber.start(stream, from: start, requested: cursor, replay: replay, ack: ack)
        } catch {
            herald.hub.unsubscribe(subscriber, from: [stream])
            streams.remove(stream)
            subscriber.stop(stream)
            throw error
        }
    }

    private func stream(in object: [String: Any], for user: User) throws -> StreamName {
        guard let label = object["stream"] as? String else {
            throw HeraldError.badRequest("Name a stream: \"user\" or \"channel:NAME\".", code: "invalid_stream")
        }
        return try Self.stream(label, for: user)
    }

    /// The stream a label names: `user` (the user's own) or `channel:NAME`.
    static func stream(_ label: String, for user: User) throws -> StreamName {
        if label == "user" { return user.stream }
        if label.hasPrefix("channel:") {
            let name = String(label.dropFirst("channel:".count))
            if let problem = Channel.problem(withName: name) {
                throw HeraldError.badRequest(problem, code: "invalid_stream")
            }
            return .channel(name)
        }
        throw HeraldError.badRequest("Unknown stream \(label): use \"user\" or \"channel:NAME\".", code: "invalid_stream")
    }
}
