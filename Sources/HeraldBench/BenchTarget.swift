import Foundation

/// What `herald bench` drives: any server that streams over SSE or WebSocket and takes
/// publishes by HTTP POST. Nothing here is specific to Herald.
public struct BenchTarget: Sendable, Codable {
    public enum Transport: String, Sendable, Codable, CaseIterable {
        case sse
        case ws
        /// Socket.IO over WebSocket (`/socket.io/?EIO=4&transport=websocket`): the subscriber
        /// sends its messages (a CONNECT, a join) once the engine opens and answers its pings.
        case socketio
    }

    public var transport: Transport
    /// Where subscribers connect: `http://host:port/path?query` (ws is reached through the same URL).
    public var subscribeURL: String
    /// Extra request headers for subscribers, `Name: value`.
    public var subscribeHeaders: [String]
    /// Text messages each WebSocket subscriber sends once connected (a subscribe command, or a
    /// Socket.IO CONNECT and join), in order.
    public var webSocketMessages: [String]
    public var publishURL: String
    public var publishHeaders: [String]
    /// The publish body; `$TIME` becomes the send time in nanoseconds, which receivers find as `"t":N`.
    public var publishBody: String

    public init(
        transport: Transport, subscribeURL: String, subscribeHeaders: [String], webSocketMessages: [String],
        publishURL: String, publishHeaders: [String], publishBody: String
    ) {
        self.transport = transport
        self.subscribeURL = subscribeURL
        self.subscribeHeaders = subscribeHeaders
        self.webSocketMessages = webSocketMessages
        self.publishURL = publishURL
        self.publishHeaders = publishHeaders
        self.publishBody = publishBody
    }
}

/// host, port and path+query of an http:// URL.
struct Endpoint: Sendable {
    var host: String
    var port: Int
    var target: String

    init(_ url: String) throws {
        guard let components = URLComponents(string: url), let host = components.host,
            components.scheme == "http" || components.scheme == "ws"
        else { throw BenchError("not an http:// URL: \(url)") }
        self.host = host
        self.port = components.port ?? 80
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        self.target = path + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Wall-clock nanoseconds: the same clock in every process on the machine, so a publisher and
/// subscribers in other processes can compare times.
func wallNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
