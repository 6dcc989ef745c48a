extension HeraldConfiguration {
    /// Every setting Herald has, in the order listings show them. A setting missing here cannot
    /// be set at all: flags, environment variables and file keys are all read from this table.
    public static let settings: [Setting] = [
        .text("host", \.host, help: "Address to listen on."),
        .integer("port", \.port, in: 0...65535, help: "Port to listen on; 0 picks a free one and prints it."),
        .optionalText(
            "advertise-host", \.advertiseHost,
            help: "The address other nodes reach this one at; unset, the listening address (127.0.0.1 for 0.0.0.0)."),
        .text("data-dir", \.dataDirectory, help: "Directory of the SQLite database (the embedded default)."),
        .optionalText(
            "database.url", flag: "database", \.databaseURL,
            help: "A PostgreSQL database every node shares instead of SQLite: postgres://user:password@host:5432/db, optionally ?sslmode=disable|prefer|require.",
            isSecret: true,
            check: { $0.hasPrefix("postgres://") || $0.hasPrefix("postgresql://") ? nil : "is not a postgres:// URL" }),
        .optionalText(
            "redis.url", flag: "redis", \.redisURL,
            help: "A Redis server: the bus between nodes, and other processes' publishes (redis-cli, Flask-SSE, Flask-SocketIO).",
            isSecret: true,
            check: { $0.hasPrefix("redis://") ? nil : "is not a redis:// URL" }),
        .choice(
            "bus", \.bus,
            help: "What carries events between nodes: inprocess, redis or postgres; by default redis with a database and Redis, postgres with a database alone."),
        .optionalText(
            "cluster-secret", \.clusterSecret, help: "The secret every node of a cluster shares: it signs the bus's messages (HMAC-SHA256) and unsigned ones are refused; unset, messages go unsigned, with a warning.",
            isSecret: true),
        .optionalText(
            "jwt.secret", \.jwtSecret,
            help: "The HS256 secret (at least 32 bytes) other backends sign their users' connection tokens (JWTs) with; unset with no public key, JWTs are refused.",
            isSecret: true, check: { $0.utf8.count >= 32 ? nil : "is shorter than 32 bytes" }),
        .optionalText(
            "jwt.public-key", \.jwtPublicKeyPath,
            help: "A PEM file with the RSA (RS256) or EC P-256 (ES256) public key that verifies connection tokens (JWTs), instead of a secret."),
        .list("flask-sse-channels", \.flaskSSEChannels, help: "The Redis channels Flask-SSE publishes on, comma-separated."),
        .text("socketio-queue-channel", \.socketIOQueueChannel, help: "The Redis channel of Flask-SocketIO's message queue."),
        .optionalText(
            "socketio-client", \.socketIOClientPath,
            help: "The Socket.IO JavaScript client file to serve at /socket.io/socket.io.min.js."),
        .integer("message-max-length", \.messageMaxLength, in: 1...100_000, help: "Longest accepted message, in characters."),
        .integer("messages-per-page", \.messagesPerPage, in: 1...1000, help: "Messages per inbox page."),
        .integer("users-per-page", \.usersPerPage, in: 1...1000, help: "Users per page of the user list."),
        .integer("bcrypt-cost", \.bcryptCost, in: 4...31, help: "bcrypt work factor of new passwords; each step doubles a login's cost."),
        .number(
            "session-lifetime-seconds", \.sessionLifetime, in: 60...(366 * 24 * 3600),
            help: "How long a login session lasts."),
        .integer("retention.count", \.retention.maxCount, in: 1...Int.max, help: "Events kept per stream (append notifications; states are kept until replaced)."),
        .number(
            "retention.seconds", \.retention.maxAge, in: 1...Double.greatestFiniteMagnitude,
            help: "Longest an event is kept, in seconds."),
        .number("max-wait-seconds", \.maxWait, in: 0...3600, help: "Longest a long-poll (`wait=`) is held."),
        .integer("max-request-body", \.maxRequestBody, in: 1024...(64 << 20), help: "Largest request body accepted, in bytes."),
        .number(
            "request-head-timeout-seconds", \.requestHeadTimeout, in: 0.1...3600,
            help: "Time a new connection has to send its first request line and headers; past it, it is closed."),
        .number(
            "idle-timeout-seconds", \.idleTimeout, in: 0.1...86_400,
            help: "Time a kept-alive connection may sit idle between requests, or stall within one, before it is closed; held streams are not idle."),
        .integer(
            "limits.login-failures-per-user", \.loginFailuresPerUser, in: 0...Int.max,
            help: "Failed logins a username may have per login window before logins for it are refused (429); 0: no limit."),
        .integer(
            "limits.login-failures-per-ip", \.loginFailuresPerAddress, in: 0...Int.max,
            help: "Failed logins one client address may have per login window, whatever the usernames; 0: no limit."),
        .number("limits.login-window-seconds", \.loginWindow, in: 1...86_400, help: "The window of the login limits."),
        .integer(
            "limits.publishes-per-second", \.publishesPerSecond, in: 0...Int.max,
            help: "Publishes (API, /ws, Socket.IO) per second per server key or user; Redis publishes are not limited; 0: no limit."),
        .integer(
            "limits.new-connections-per-ip-per-second", \.newConnectionsPerSecond, in: 0...Int.max,
            help: "New connections per second per client address, ten seconds' worth at once; 0: no limit."),
        .integer(
            "limits.held-connections-per-ip", \.heldConnectionsPerAddress, in: 0...Int.max,
            help: "Connections one client address may have open at once, held streams and long-polls included; 0: no limit."),
        .boolean(
            "limits.trust-forwarded-for", \.trustForwardedFor,
            help: "Behind a proxy: take the client's address from the last X-Forwarded-For entry for the login limits; the connection limits are then the proxy's to enforce."),
        .integer(
            "limits.streams-per-connection", \.streamsPerConnection, in: 1...100_000,
            help: "Streams one connection may read at once: SSE channels, /ws subscriptions, Socket.IO channels."),
        .number(
            "write-delay-ms", \.writeDelayMilliseconds, in: 0...50,
            help: "Milliseconds a held connection's first unsent event waits for more to leave in the same write; 0: sent in the next turn of the loop."),
        .integer(
            "heartbeat-seconds", \.heartbeatSeconds, in: 1...3600,
            help: "Seconds between heartbeats on held connections (SSE comment, WebSocket ping)."),
        .boolean(
            "ws-deflate", \.webSocketDeflate,
            help: "Offer permessage-deflate on WebSockets (about 87 KB of zlib state per connection)."),
        .integer(
            "demo-tick-seconds", \.demoTickSeconds, in: 1...86_400,
            help: "Seconds between the demo Socket.IO namespace's (/test) server-sent events."),
        .choice("log-level", \.logLevel, help: "Least severe log level written: trace, debug, info, notice, warning, error, critical."),
    ]

    /// The setting a flag (without its dashes) names.
    public static func setting(flag: String) -> Setting? {
        settings.first { $0.flag == flag }
    }
}

/// Printed, the configuration shows every setting as the listings do, secrets masked: libraries
/// describe what they are given (ServiceLifecycle logs each service it starts, fields and all),
/// and a secret must not reach a log that way.
extension HeraldConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        "HeraldConfiguration(" + Self.settings.map { "\($0.key): \($0.value(in: self) ?? "unset")" }.joined(separator: ", ") + ")"
    }

    public var debugDescription: String { description }
}
