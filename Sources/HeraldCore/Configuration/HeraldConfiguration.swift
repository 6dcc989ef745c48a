import Logging

/// Settings shared by the server and the administration commands.
public struct HeraldConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// The address other nodes reach this one at; by default `host` (set it when that is 0.0.0.0).
    public var advertiseHost: String?

    public var advertisedHost: String {
        if let advertiseHost { return advertiseHost }
        return host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
    }
    /// 0 lets the system pick a free port; the chosen one is printed at start.
    public var port = 8080
    /// Where the SQLite database lives, unless `databaseURL` names a PostgreSQL database.
    public var dataDirectory = "herald-data"
    /// A PostgreSQL database (`postgres://…`) shared by every node, instead of SQLite.
    public var databaseURL: String?
    public var messageMaxLength = 1000
    public var messagesPerPage = 25
    public var usersPerPage = 50
    /// bcrypt work factor. Each step doubles the cost of a login.
    public var bcryptCost = 12
    public var sessionLifetime: Double = 30 * 24 * 3600
    /// Longest a long-poll may be held, in seconds.
    public var maxWait: Double = 60
    /// Largest request body accepted, in bytes.
    public var maxRequestBody = 64 * 1024
    public var retention = Retention()
    /// Seconds a new connection has to send its first request head (slowloris).
    public var requestHeadTimeout: Double = 10
    /// Seconds a kept-alive connection may sit idle between requests (or stall within one).
    public var idleTimeout: Double = 60
    /// Failed logins a username may have per `loginWindow` (0: no limit).
    public var loginFailuresPerUser = 10
    /// Failed logins one client address may have per `loginWindow`, whatever the usernames.
    public var loginFailuresPerAddress = 100
    public var loginWindow: Double = 15 * 60
    /// Publishes (API, `/ws`, Socket.IO) per second per credential: above what one SQLite writer
    /// commits, so only a runaway client meets it.
    public var publishesPerSecond = 10_000
    /// New connections per second per client address, ten seconds' worth at once.
    public var newConnectionsPerSecond = 2000
    /// Connections one client address may have open at once: room for a 19,000-subscriber load
    /// test from one machine; an internet-facing server wants far fewer.
    public var heldConnectionsPerAddress = 25_000
    /// Take the client's address from the last `X-Forwarded-For` entry (behind a trusted proxy).
    public var trustForwardedFor = false
    /// Streams one connection may read at once: SSE `channel`s, `/ws` subscriptions, Socket.IO channels.
    public var streamsPerConnection = 100
    /// Seconds between heartbeats on held connections (SSE comments).
    public var heartbeatSeconds = 15
    /// How long an event waits, unsent, for the events after it to leave in the same write.
    public var writeDelayMilliseconds = 0.0
    /// Offer permessage-deflate on WebSockets. Off by default: it costs about 87 KB of zlib state
    /// per connection.
    public var webSocketDeflate = false
    /// The stock Socket.IO JavaScript client (`socket.io.min.js`), served at
    /// `/socket.io/socket.io.min.js` for the demo page and any page of yours. Herald ships no
    /// third-party code: `scripts/fetch-socketio-client` fetches the file.
    public var socketIOClientPath: String?
    /// Seconds between the demo namespace's (`/test`) server-generated events.
    public var demoTickSeconds = 10
    /// A Redis server to listen on for other processes' publishes (`redis://[:password@]host:port`).
    public var redisURL: String?
    /// The Redis channels Flask-SSE publishers write to; each feeds the Herald channel of its name.
    public var flaskSSEChannels = ["sse"]
    /// The Redis channel of Flask-SocketIO's (python-socketio's) message queue.
    public var socketIOQueueChannel = "flask-socketio"
    /// What carries events between nodes; nil picks by the other settings (`effectiveBus`).
    public var bus: Bus?
    /// The secret every node of a cluster shares, which signs what they tell each other on the bus.
    public var clusterSecret: String?
    /// The HS256 secret that signs connection tokens (JWTs) other backends give their users.
    public var jwtSecret: String?
    /// A PEM file holding the RSA or EC P-256 public key that verifies connection tokens, instead.
    public var jwtPublicKeyPath: String?
    /// The least severe log level written.
    public var logLevel: Logger.Level = .info

    /// What carries events from the node that wrote them to the other nodes' readers.
    public enum Bus: String, Sendable, CaseIterable {
        /// One node: straight to its own hub.
        case inProcess = "inprocess"
        /// Redis pub/sub (needs `redisURL`).
        case redis
        /// PostgreSQL's LISTEN/NOTIFY (needs `databaseURL`).
        case postgres
    }

    /// The bus in use: as set, or else Redis when nodes share a PostgreSQL database and a Redis
    /// server, LISTEN/NOTIFY when they share only the database, and in-process with SQLite.
    public var effectiveBus: Bus {
        if let bus { return bus }
        guard databaseURL != nil else { return .inProcess }
        return redisURL != nil ? .redis : .postgres
    }

    /// Why these settings cannot run, if they cannot.
    public var busProblem: String? {
        switch effectiveBus {
        case .inProcess: nil
        case .redis where databaseURL == nil, .postgres where databaseURL == nil:
            "The \(effectiveBus.rawValue) bus connects nodes that share a PostgreSQL database: set --database too."
        case .redis where redisURL == nil: "The redis bus needs --redis."
        default: nil
        }
    }

    /// Why the connection-token settings cannot run together, if they cannot.
    public var jwtProblem: String? {
        guard jwtSecret != nil, jwtPublicKeyPath != nil else { return nil }
        return "Set one of --jwt-secret and --jwt-public-key, not both: a server verifies connection tokens with one key."
    }

    public init() {}
}
