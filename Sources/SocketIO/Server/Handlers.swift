/// Handles one event: receives the socket and the event's arguments; what it returns is the
/// acknowledgement's arguments, sent if the client asked for one.
public typealias SocketIOEventHandler = @Sendable (SocketIOSocket, [JSONValue]) async throws -> [JSONValue]

/// Runs when a client joins a namespace, with its auth payload. Throwing refuses the connection:
/// a `SocketIOConnectionRefused` says what the client is told.
public typealias SocketIOConnectHandler = @Sendable (SocketIOSocket, JSONValue?) async throws -> Void

/// Runs when a socket leaves its namespace, with the reason.
public typealias SocketIODisconnectHandler = @Sendable (SocketIOSocket, SocketIODisconnectReason) async -> Void

/// Sees an event handler's error with the event name and arguments that failed; what it returns
/// is the acknowledgement, if the client asked for one.
public typealias SocketIOErrorHandler = @Sendable (any Error, SocketIOSocket, String, [JSONValue]) async -> [JSONValue]

/// Thrown by a connect handler to refuse the connection: the client gets CONNECT_ERROR with this
/// message, and `data` if given.
public struct SocketIOConnectionRefused: Error, Sendable {
    public var message: String
    public var data: JSONValue?

    public init(_ message: String, data: JSONValue? = nil) {
        self.message = message
        self.data = data
    }
}

/// Why a socket left its namespace, in the words Socket.IO's own server uses.
public enum SocketIODisconnectReason: String, Sendable {
    case clientNamespaceDisconnect = "client namespace disconnect"
    case serverNamespaceDisconnect = "server namespace disconnect"
    case transportClose = "transport close"
    case transportError = "transport error"
    case pingTimeout = "ping timeout"
    case parseError = "parse error"
    case serverShuttingDown = "server shutting down"
}

/// A namespace written as a type, Flask-SocketIO's class-based namespaces in Swift: its methods
/// handle the namespace's events. `handler(for:)` names the method for each event; a function
/// handler registered with `on` for the same event wins over it.
///
/// ```swift
/// struct Chat: SocketIONamespaceHandler {
///     func handler(for event: String) -> SocketIOEventHandler? {
///         switch event {
///         case "join": join
///         default: nil
///         }
///     }
///     func join(_ socket: SocketIOSocket, _ args: [JSONValue]) async throws -> [JSONValue] { … }
/// }
/// ```
public protocol SocketIONamespaceHandler: Sendable {
    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async throws
    func disconnect(_ socket: SocketIOSocket, reason: SocketIODisconnectReason) async
    func handler(for event: String) -> SocketIOEventHandler?
}

extension SocketIONamespaceHandler {
    public func connect(_ socket: SocketIOSocket, auth: JSONValue?) async throws {}
    public func disconnect(_ socket: SocketIOSocket, reason: SocketIODisconnectReason) async {}
}

/// An acknowledgement the client did not send in time.
public struct SocketIOAckTimeout: Error, Sendable {
    public let event: String
}

/// The socket left before the acknowledgement came.
public struct SocketIODisconnected: Error, Sendable {}
