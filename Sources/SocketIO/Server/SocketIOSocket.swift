import EngineIO
import Foundation
import NIOCore
import Synchronization

/// One client's membership of one namespace. Safe from any task.
public final class SocketIOSocket: Sendable {
    /// The socket's id, and the name of the room only it is in.
    public let id: String
    public let namespace: SocketIONamespace
    /// The Engine.IO session underneath, shared by the client's sockets of every namespace.
    public let session: EngineSession
    let client: SocketIOClient

    private struct State {
        var connected = false
        var left = false
        /// Emits made before the CONNECT reply was sent (by a connect handler): sent after it.
        var early: [[EngineMessage]] = []
        var acks: [Int: CheckedContinuation<[JSONValue], any Error>] = [:]
        var nextAckID = 0
        var recoveryID: String?
        var whenConnected: [@Sendable () -> Void] = []
        var userData: (any Sendable)?
    }

    private let state = Mutex(State())

    init(id: String, namespace: SocketIONamespace, client: SocketIOClient) {
        self.id = id
        self.namespace = namespace
        self.client = client
        self.session = client.session
    }

    /// The request that opened the connection: its headers and query.
    public var handshake: EngineHandshake { session.handshake }

    public var isConnected: Bool { state.withLock { $0.connected && !$0.left } }

    /// Disconnected, or refused by a connect handler.
    var hasLeft: Bool { state.withLock { $0.left } }

    /// Sent as `pid` in the CONNECT reply when set by a connect handler: a client that offers it
    /// back (with the offset of the last event it saw) asks to recover its session.
    public var recoveryID: String? {
        get { state.withLock { $0.recoveryID } }
        set { state.withLock { $0.recoveryID = newValue } }
    }

    /// Whatever the application keeps for this socket (Flask-SocketIO's per-socket session).
    public var userData: (any Sendable)? {
        get { state.withLock { $0.userData } }
        set { state.withLock { $0.userData = newValue } }
    }

    /// Runs `body` once the CONNECT reply is on its way (at once if it already is).
    public func whenConnected(_ body: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.connected { return true }
            state.whenConnected.append(body)
            return false
        }
        if now { body() }
    }

    // MARK: Emitting

    public func emit(_ event: String, _ arguments: JSONValue...) {
        emit(event, arguments: arguments)
    }

    public func emit(_ event: String, arguments: [JSONValue]) {
        send(packet: SocketPacket(.event, namespace: namespace.name, data: .array([.string(event)] + arguments)))
    }

    /// Emits and waits for the client's acknowledgement, at most `timeout` (the server's
    /// `ackTimeout` by default). Throws `SocketIOAckTimeout`, or `SocketIODisconnected` if the
    /// socket leaves first.
    public func emitWithAck(_ event: String, _ arguments: JSONValue..., timeout: Duration? = nil) async throws -> [JSONValue] {
        let timeout = timeout ?? client.ackTimeout
        let id = state.withLock { state -> Int in
            defer { state.nextAckID += 1 }
            return state.nextAckID
        }
        return try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { state -> Bool in
                guard !state.left else { return false }
                state.acks[id] = continuation
                return true
            }
            guard accepted else { return continuation.resume(throwing: SocketIODisconnected()) }
            send(packet: SocketPacket(.event, namespace: namespace.name, id: id, data: .array([.string(event)] + arguments)))
            session.eventLoop.scheduleTask(in: .init(timeout)) { [self] in
                state.withLock { $0.acks.removeValue(forKey: id) }?.resume(throwing: SocketIOAckTimeout(event: event))
            }
        }
    }

    /// Everyone in the namespace but this socket.
    public var broadcast: SocketIOBroadcast {
        SocketIOBroadcast(namespace: namespace).except(id)
    }

    /// Everyone in `room` but this socket.
    public func to(_ room: String) -> SocketIOBroadcast {
        broadcast.to(room)
    }

    // MARK: Rooms

    public func join(_ room: String) { namespace.join(self, room) }
    public func leave(_ room: String) { namespace.leave(self, room) }
    public var rooms: Set<String> { namespace.rooms(of: self) }

    // MARK: Leaving

    /// Disconnects this socket from its namespace (DISCONNECT to the client); the connection and
    /// its other namespaces stay.
    public func disconnect() {
        send(packet: SocketPacket(.disconnect, namespace: namespace.name))
        client.serverDisconnected(self)
    }

    // MARK: Internals

    func send(packet: SocketPacket) {
        send(encoded: packet.encoded())
    }

    /// Sends messages that are already encoded (a broadcast encodes once for all its sockets).
    public func send(encoded messages: [EngineMessage]) {
        state.withLock { state in
            guard !state.left else { return }
            if state.connected { session.send(messages) } else { state.early.append(messages) }
        }
    }

    /// Sends the CONNECT reply, then what was emitted meanwhile, in one ordered batch.
    func markConnected() {
        let callbacks = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.left else { return [] }
            var reply: [(key: String, value: JSONValue)] = [("sid", .string(id))]
            if let pid = state.recoveryID { reply.append(("pid", .string(pid))) }
            let connect = SocketPacket(.connect, namespace: namespace.name, data: .object(reply)).encoded()
            session.send(connect + state.early.flatMap { $0 })
            state.early = []
            state.connected = true
            defer { state.whenConnected = [] }
            return state.whenConnected
        }
        for callback in callbacks { callback() }
    }

    /// The client acknowledged one of this socket's emits.
    func acknowledged(id: Int, arguments: [JSONValue]) {
        state.withLock { $0.acks.removeValue(forKey: id) }?.resume(returning: arguments)
    }

    /// The socket is gone: nothing more is sent, waiting acks fail.
    func markLeft() {
        let waiting = state.withLock { state -> [CheckedContinuation<[JSONValue], any Error>] in
            state.left = true
            state.early = []
            defer { state.acks = [:] }
            return Array(state.acks.values)
        }
        for continuation in waiting { continuation.resume(throwing: SocketIODisconnected()) }
    }
}
