import EngineIO
import Synchronization

/// A Socket.IO v5 server: namespaces of sockets, on an Engine.IO server that a host (Herald's
/// HTTP server, or any other) carries.
///
/// ```swift
/// let io = SocketIOServer()
/// io.of("/chat").on("my event") { socket, args in
///     socket.broadcast.emit("my event", args)
///     return ["got it"]                           // the acknowledgement, if one was asked for
/// }
/// ```
///
/// Guarantees: a socket's handlers run one at a time, in the order its packets arrived; emits a
/// connect handler makes reach the client after the CONNECT reply; a malformed packet closes
/// only the connection it came on.
public final class SocketIOServer: Sendable {
    public let configuration: SocketIOConfiguration
    public let engine: EngineServer
    let registry: NamespaceRegistry

    public init(configuration: SocketIOConfiguration = SocketIOConfiguration()) {
        let registry = NamespaceRegistry()
        self.configuration = configuration
        self.registry = registry
        self.engine = EngineServer(configuration: configuration.engine) { session in
            SocketIOClient(session: session, registry: registry, ackTimeout: configuration.ackTimeout)
                .start(connectTimeout: configuration.connectTimeout)
        }
        _ = registry.namespace("/", create: true)
    }

    /// The namespace called `name` (`/chat`), made on first use. Clients may join only namespaces
    /// made this way; any other is refused with "Invalid namespace".
    public func of(_ name: String) -> SocketIONamespace {
        registry.namespace(name.hasPrefix("/") ? name : "/" + name, create: true)!
    }

    /// The namespace called `name` if it was made with `of`; for emits from outside (a message
    /// queue), which must not make namespaces clients could then join.
    public func existing(_ name: String) -> SocketIONamespace? {
        registry.namespace(name.hasPrefix("/") ? name : "/" + name, create: false)
    }

    /// The main namespace, `/`.
    public var main: SocketIONamespace { of("/") }

    /// Where broadcasts go besides this server's sockets (the other servers of a cluster); nil
    /// (the default) for a server on its own.
    public var adapter: (any SocketIOAdapter)? {
        get { registry.adapter.withLock { $0 } }
        set { registry.adapter.withLock { $0 = newValue } }
    }

    /// A broadcast another server published: to this server's sockets in its rooms. Namespaces
    /// this server has not made are ignored, as their sockets cannot be here.
    public func deliver(_ broadcast: SocketIORemoteBroadcast) {
        guard let namespace = existing(broadcast.namespace) else { return }
        var target = SocketIOBroadcast(namespace: namespace)
        target.rooms = Set(broadcast.rooms)
        target.excluded = Set(broadcast.excluded)
        target.emitLocally(broadcast.event, arguments: broadcast.arguments)
    }

    /// The error handler of namespaces that have none of their own.
    public func onError(_ handler: @escaping SocketIOErrorHandler) {
        registry.defaultErrorHandler.withLock { $0 = handler }
    }
}

/// The namespaces of one server, and its default error handler.
final class NamespaceRegistry: Sendable {
    private let namespaces = Mutex([String: SocketIONamespace]())
    let defaultErrorHandler = Mutex<SocketIOErrorHandler?>(nil)
    let adapter = Mutex<(any SocketIOAdapter)?>(nil)

    func namespace(_ name: String, create: Bool) -> SocketIONamespace? {
        namespaces.withLock { namespaces in
            if let existing = namespaces[name] { return existing }
            guard create else { return nil }
            let made = SocketIONamespace(name: name, registry: self)
            namespaces[name] = made
            return made
        }
    }
}
