import EngineIO
import Logging
import Synchronization

/// A namespace: its handlers, its connected sockets and their rooms. Every room holds sockets
/// by sid, and each socket is in the room named by its own sid.
///
/// Safe from any task: emit to it from a handler, a background task or an HTTP route alike.
public final class SocketIONamespace: Sendable {
    public let name: String
    let registry: NamespaceRegistry
    private let logger = Logger(label: "socket.io")

    private struct Handlers {
        var events: [String: SocketIOEventHandler] = [:]
        var connect: [SocketIOConnectHandler] = []
        var disconnect: [SocketIODisconnectHandler] = []
        var error: SocketIOErrorHandler?
        var object: (any SocketIONamespaceHandler)?
    }

    /// Every room holds sockets by sid. A socket is in the room named by its own sid without an
    /// entry in `rooms` (one set per socket would cost every connection, and leaving would scan
    /// them all), unless it left that room.
    private struct Members {
        var sockets: [String: SocketIOSocket] = [:]
        /// The rooms joined by name, with their sids.
        var rooms: [String: Set<String>] = [:]
        /// Sockets that left the room of their own sid.
        var outOfOwnRoom: Set<String> = []

        /// Scans the rooms joined by name, not one per socket.
        mutating func removeFromRooms(_ sid: String) {
            outOfOwnRoom.remove(sid)
            for room in rooms.keys where rooms[room]!.remove(sid) != nil {
                if rooms[room]!.isEmpty { rooms[room] = nil }
            }
        }

        func sids(in room: String) -> Set<String> {
            var sids = rooms[room] ?? []
            if sockets[room] != nil, !outOfOwnRoom.contains(room) { sids.insert(room) }
            return sids
        }
    }

    private let handlers = Mutex(Handlers())
    private let members = Mutex(Members())

    init(name: String, registry: NamespaceRegistry) {
        self.name = name
        self.registry = registry
    }

    // MARK: Handlers

    /// Handles the event `event`; the handler's result is the acknowledgement.
    public func on(_ event: String, _ handler: @escaping SocketIOEventHandler) {
        handlers.withLock { $0.events[event] = handler }
    }

    /// Runs for each client that joins; throw to refuse it (see `SocketIOConnectionRefused`).
    public func onConnect(_ handler: @escaping SocketIOConnectHandler) {
        handlers.withLock { $0.connect.append(handler) }
    }

    public func onDisconnect(_ handler: @escaping SocketIODisconnectHandler) {
        handlers.withLock { $0.disconnect.append(handler) }
    }

    /// Sees the errors this namespace's event handlers throw.
    public func onError(_ handler: @escaping SocketIOErrorHandler) {
        handlers.withLock { $0.error = handler }
    }

    /// Hands the namespace's events to a type's methods; handlers registered with `on` win.
    public func register(_ handler: some SocketIONamespaceHandler) {
        handlers.withLock { $0.object = handler }
    }

    // MARK: Emitting

    /// Emits to every socket of the namespace.
    public func emit(_ event: String, _ arguments: JSONValue...) {
        SocketIOBroadcast(namespace: self).emit(event, arguments: arguments)
    }

    public func emit(_ event: String, arguments: [JSONValue]) {
        SocketIOBroadcast(namespace: self).emit(event, arguments: arguments)
    }

    /// Emits to the sockets in `room` (and any other room added with `to`).
    public func to(_ room: String) -> SocketIOBroadcast {
        SocketIOBroadcast(namespace: self).to(room)
    }

    public func except(_ room: String) -> SocketIOBroadcast {
        SocketIOBroadcast(namespace: self).except(room)
    }

    // MARK: Members

    public var sockets: [SocketIOSocket] {
        members.withLock { Array($0.sockets.values) }
    }

    public func socket(id: String) -> SocketIOSocket? {
        members.withLock { $0.sockets[id] }
    }

    /// The sids of the sockets in `room`.
    public func sids(in room: String) -> Set<String> {
        members.withLock { $0.sids(in: room) }
    }

    /// The sockets in any of `rooms` (all sockets when empty), minus those in any of `except`.
    func sockets(in rooms: Set<String>, except: Set<String>) -> [SocketIOSocket] {
        members.withLock { members in
            let excluded = except.reduce(into: Set<String>()) { $0.formUnion(members.sids(in: $1)) }
            let sids: Set<String> =
                rooms.isEmpty
                ? Set(members.sockets.keys)
                : rooms.reduce(into: Set<String>()) { $0.formUnion(members.sids(in: $1)) }
            return sids.subtracting(excluded).compactMap { members.sockets[$0] }
        }
    }

    func join(_ socket: SocketIOSocket, _ room: String) {
        members.withLock { members in
            // A connect handler may join rooms before the socket is a member; a socket that
            // left (or was refused) joins nothing.
            guard members.sockets[socket.id] === socket || (members.sockets[socket.id] == nil && !socket.hasLeft) else { return }
            if room == socket.id { members.outOfOwnRoom.remove(room) } else { members.rooms[room, default: []].insert(socket.id) }
        }
    }

    func leave(_ socket: SocketIOSocket, _ room: String) {
        members.withLock { members in
            if room == socket.id, members.sockets[room] === socket { members.outOfOwnRoom.insert(room) }
            members.rooms[room]?.remove(socket.id)
            if members.rooms[room]?.isEmpty == true { members.rooms[room] = nil }
        }
    }

    func rooms(of socket: SocketIOSocket) -> Set<String> {
        members.withLock { members in
            var rooms = Set(members.rooms.compactMap { $0.value.contains(socket.id) ? $0.key : nil })
            if members.sockets[socket.id] === socket, !members.outOfOwnRoom.contains(socket.id) { rooms.insert(socket.id) }
            return rooms
        }
    }

    // MARK: Lifecycle (called by the socket's client, in order)

    /// Runs the connect handlers; on success the socket is a member, in its own room.
    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async throws {
        let (object, connectHandlers) = handlers.withLock { ($0.object, $0.connect) }
        do {
            try await object?.connect(socket, auth: auth)
            for handler in connectHandlers { try await handler(socket, auth) }
        } catch {
            // Refused: out of the rooms its handlers joined.
            members.withLock { $0.removeFromRooms(socket.id) }
            throw error
        }
        members.withLock { members in members.sockets[socket.id] = socket }
    }

    func disconnected(_ socket: SocketIOSocket, reason: SocketIODisconnectReason) async {
        let wasMember = members.withLock { members -> Bool in
            guard members.sockets[socket.id] === socket else { return false }
            members.sockets[socket.id] = nil
            members.removeFromRooms(socket.id)
            return true
        }
        guard wasMember else { return }
        let (object, disconnectHandlers) = handlers.withLock { ($0.object, $0.disconnect) }
        await object?.disconnect(socket, reason: reason)
        for handler in disconnectHandlers { await handler(socket, reason) }
    }

    /// Runs the event's handler; the acknowledgement is its result, nil when nothing handled it.
    func dispatch(_ socket: SocketIOSocket, event: String, arguments: [JSONValue]) async -> [JSONValue]? {
        let (function, object, errorHandler) = handlers.withLock { ($0.events[event], $0.object, $0.error) }
        guard let handler = function ?? object?.handler(for: event) else { return nil }
        do {
            return try await handler(socket, arguments)
        } catch {
            if let errorHandler = errorHandler ?? registry.defaultErrorHandler.withLock({ $0 }) {
                return await errorHandler(error, socket, event, arguments)
            }
            logger.error("Unhandled error in handler of \(event) in \(name): \(error)")
            return nil
        }
    }
}
