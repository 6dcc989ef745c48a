import EngineIO
import Foundation
import HeraldCore
import SocketIO

/// `/notifications`: the user's notifications, and channels joined as rooms, for Socket.IO
/// clients, resumable by cursor exactly like SSE.
///
/// - Connect with the session cookie, `Authorization: Bearer`, or the auth payload `{token}`. The
///   auth payload's `offset` (what socket.io-client 4.6+ sends back by itself when it reconnects,
///   or a seq given by hand) resumes every stream it names: `17`, or `17;lobby=5` with channels.
/// - Events arrive named by the notification, with `(data, {stream, seq, timestamp}, offset)`.
/// - `join {channel, since?}`, `leave {channel}`, `publish {channel, name, data, mode?}` and
///   `text {channel, text}` (a chat-room line) are acknowledged with a result or `{error}`.
struct NotificationsNamespace: SocketIONamespaceHandler {
    let herald: Herald

    /// What a connected socket keeps: who it is and its hub subscriber.
    struct Connection: Sendable {
        let user: User
        let subscriber: SocketIOSubscriber
        /// Set for a connection token (JWT): what it may read; it may not write.
        var grant: ConnectionGrant? = nil
    }

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async throws {
        let (user, grant) = try await authenticate(socket, auth: auth)
        let requested = try cursors(from: auth?["offset"])
        let access = ChannelAccess(store: herald.store)
        var streams = [user.stream]
        try await refusing { try herald.limits.checkStreams(1 + requested.channels.count) }
        for name in requested.channels.keys.sorted() {
            streams.append(try await refusing { try await access.readable(name, by: user, grant: grant).stream })
        }
        let subscriber = SocketIOSubscriber(session: socket.session, user: user.stream, metrics: herald.metrics)
        subscriber.prepare(streams)
        herald.hub.subscribe(subscriber, to: streams)
        socket.userData = Connection(user: user, subscriber: subscriber, grant: grant)
        let history: (replays: [(StreamName, StreamReplay)], cursors: StreamCursors)
        do {
            history = try await refusing { try await herald.history.read(streams, after: requested) }
        } catch {
            herald.hub.unsubscribeAll(subscriber)
            throw error
        }
        for case .channel(let name) in streams { socket.join(name) }
        // The same pid as offered says "recovered" to socket.io-client; what it resumes is the
        // offset, so the pid is no secret and the socket's own id serves.
        socket.recoveryID = auth?["pid"]?.stringValue ?? socket.id
        socket.whenConnected { subscriber.start(history.replays, from: history.cursors, requested: requested) }
        // A connection token's socket is disconnected when the token expires; the client reconnects with a fresh one.
        if let grant {
            Task { [socket] in
                try? await Task.sleep(for: .seconds(max(0, grant.expiresAt.timeIntervalSinceNow)))
                socket.disconnect()
            }
        }
    }

    func disconnect(_ socket: SocketIOSocket, reason: SocketIODisconnectReason) async {
        if let connection = socket.userData as? Connection { herald.hub.unsubscribeAll(connection.subscriber) }
    }

    func handler(for event: String) -> SocketIOEventHandler? {
        switch event {
        case "join": join
        case "leave": leave
        case "publish": publish
        case "text": text
        default: nil
        }
    }

    // MARK: Events

    func join(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        try await answering { connection, request in
            let name = try channelName(request)
            let joined = socket.rooms.subtracting([socket.id])
            if !joined.contains(name) { try herald.limits.checkStreams(2 + joined.count) }
            let channel = try await ChannelAccess(store: herald.store).readable(name, by: connection.user, grant: connection.grant)
            var requested = StreamCursors()
            if let since = request["since"] {
                guard let seq = since.int64Value, seq >= 0 else {
                    throw HeraldError.badRequest("since must be a whole number from 0.", code: "invalid_cursor")
                }
                requested.set(seq, for: channel.stream)
            }
            let subscriber = connection.subscriber
            subscriber.prepare([channel.stream])
            herald.hub.subscribe(subscriber, to: [channel.stream])
            do {
                let history = try await herald.history.read([channel.stream], after: requested)
                subscriber.start(history.replays, from: history.cursors, requested: requested)
                socket.join(channel.name)
                // As in Flask-SocketIO's chat example: the whole room, the newcomer too, is told.
                socket.namespace.to(channel.name).emit("status", ["msg": .string("\(connection.user.username) has entered the room.")])
                return ["channel": .string(channel.name), "seq": .number(Double(history.replays[0].1.lastSeq))]
            } catch {
                herald.hub.unsubscribe(subscriber, from: [channel.stream])
                subscriber.stop(channel.stream)
                throw error
            }
        }(socket, arguments)
    }

    func leave(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        try await answering { connection, request in
            let name = try channelName(request)
            herald.hub.unsubscribe(connection.subscriber, from: [.channel(name)])
            connection.subscriber.stop(.channel(name))
            if socket.rooms.contains(name) {
                socket.to(name).emit("status", ["msg": .string("\(connection.user.username) has left the room.")])
                socket.leave(name)
            }
            return ["channel": .string(name)]
        }(socket, arguments)
    }

    func publish(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        try await answering { connection, request in
            if connection.grant != nil { throw HeraldError.readOnlyToken }
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.description.utf8)) as? [String: Any],
                object["user"] == nil, object["users"] == nil
            else { throw HeraldError.unprocessable("Publish to a channel: {channel, name, data}.", code: "invalid_target") }
            let outcome = try await Publisher(herald: herald).publish(try Publication(object), by: connection.user, isServerKey: false)
            guard case .seq(let seq) = outcome else { return [:] }
            return ["seq": .number(Double(seq))]
        }(socket, arguments)
    }

    func text(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        try await answering { connection, request in
            if connection.grant != nil { throw HeraldError.readOnlyToken }
            let room = try await ChannelAccess(store: herald.store).postable(try channelName(request), by: connection.user)
            let body = try MessageBody.validated(request["text"]?.stringValue ?? "", maxLength: herald.configuration.messageMaxLength)
                .mapError { HeraldError.unprocessable($0.explanation, code: "invalid_text") }.get()
            let written = try await RoomLine.post(body, by: connection.user, in: room, herald: herald)
            return ["seq": .number(Double(written.seq))]
        }(socket, arguments)
    }

    // MARK: Helpers

    /// Wraps an event's work: its first argument is the request object, its result the one
    /// argument of the acknowledgement; a refusal is acknowledged as `{error: {code, message}}`.
    private func answering(
        _ work: @escaping @Sendable (Connection, JSONValue) async throws -> JSONValue
    ) -> SocketIOEventHandler {
        { socket, arguments in
            do {
                guard let connection = socket.userData as? Connection else { throw HeraldError.unauthorized() }
                guard let request = arguments.first, request.isObject else {
                    throw HeraldError.badRequest("The first argument is an object.", code: "invalid_json")
                }
                return [try await work(connection, request)]
            } catch let error as HeraldError {
                return [["error": ["code": .string(error.code), "message": .string(error.message)]]]
            }
        }
    }

    private func channelName(_ request: JSONValue) throws -> String {
        guard let name = request["channel"]?.stringValue else {
            throw HeraldError.unprocessable("Name a channel.", code: "missing_field")
        }
        return name
    }

    /// The user behind the connection: the auth payload's token, else the handshake's bearer
    /// token or session cookie.
    private func authenticate(_ socket: SocketIOSocket, auth: JSONValue?) async throws -> (User, ConnectionGrant?) {
        let handshake = socket.handshake
        var authorization = handshake.header("authorization")
        if let token = auth?["token"]?.stringValue { authorization = "Bearer \(token)" }
        let cookie = handshake.header("cookie").flatMap { Cookies.value(named: SessionCookie.name, in: [$0]) }
        let identified = try await refusing {
            try await herald.authenticator.identify(authorization: authorization, sessionCookie: cookie)
        }
        guard let user = identified.user else {
            throw SocketIOConnectionRefused(
                "Sign in: a session cookie, Authorization: Bearer, or auth {token}.", data: ["code": "unauthorized"])
        }
        if case .connectionToken(let grant) = identified.credential { return (user, grant) }
        return (user, nil)
    }

    private func cursors(from offset: JSONValue?) throws -> StreamCursors {
        guard let offset, offset != .null else { return StreamCursors() }
        let text = offset.stringValue ?? offset.int64Value.map(String.init)
        guard let text, let cursors = StreamCursors(parsing: text) else {
            throw SocketIOConnectionRefused(
                "The offset must be a seq, optionally followed by ;channel=seq pairs.", data: ["code": "invalid_cursor"])
        }
        return cursors
    }

    /// Herald's errors become the CONNECT_ERROR the client sees, with their code.
    private func refusing<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as HeraldError {
            throw SocketIOConnectionRefused(error.message, data: ["code": .string(error.code)])
        }
    }
}
