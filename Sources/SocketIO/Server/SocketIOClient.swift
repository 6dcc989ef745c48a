import EngineIO
import NIOCore

/// One Engine.IO session seen by Socket.IO: decodes its packets and routes them to the socket of
/// each namespace it joined. Its state lives on the session's event loop (where the engine calls
/// it); each socket's handlers run in a chain of tasks, one after the other.
final class SocketIOClient: @unchecked Sendable {
    let session: EngineSession
    let registry: NamespaceRegistry
    /// How long `emitWithAck` waits when given no timeout.
    let ackTimeout: Duration
    private var decoder = SocketPacketDecoder()
    /// One per namespace joined, rarely more than two: a list costs a held connection less than
    /// a dictionary.
    private var sockets: [SocketIOSocket] = []
    /// The last task of each namespace's chain: the next packet's work starts after it. A task
    /// is let go when it ends: a finished one kept here holds its whole stack (about 4 KB).
    private var chains: [String: (number: Int, task: Task<Void, Never>)] = [:]
    private var tasks = 0
    private var connectTimer: Scheduled<Void>?

    init(session: EngineSession, registry: NamespaceRegistry, ackTimeout: Duration) {
        self.session = session
        self.registry = registry
        self.ackTimeout = ackTimeout
    }

    /// Called on the session's loop when it opens.
    func start(connectTimeout: Duration) {
        session.onMessage = { [self] message in receive(message) }
        session.onClose = { [self] reason in engineClosed(reason) }
        connectTimer = session.eventLoop.scheduleTask(in: .init(connectTimeout)) { [self] in
            if sockets.isEmpty { session.close() }
        }
    }

    private func receive(_ message: EngineMessage) {
        let packet: SocketPacket
        do {
            guard let decoded = try decoder.decode(message) else { return }
            packet = decoded
        } catch {
            // The spec's answer to a malformed packet: close the connection.
            return session.close()
        }
        switch packet.kind {
        case .connect: connect(packet)
        case .disconnect:
            guard let socket = removeSocket(of: packet.namespace) else { return }
            leave(socket, reason: .clientNamespaceDisconnect)
        case .event, .binaryEvent:
            guard let socket = socket(of: packet.namespace), let items = packet.data?.arrayValue else { return }
            let name = items[0].stringValue ?? items[0].description
            let arguments = Array(items.dropFirst())
            let id = packet.id
            chain(packet.namespace) {
                guard socket.isConnected,
                    let ack = await socket.namespace.dispatch(socket, event: name, arguments: arguments),
                    let id
                else { return }
                socket.send(packet: SocketPacket(.ack, namespace: socket.namespace.name, id: id, data: .array(ack)))
            }
        case .ack, .binaryAck:
            guard let socket = socket(of: packet.namespace), let id = packet.id else { return }
            socket.acknowledged(id: id, arguments: packet.data?.arrayValue ?? [])
        case .connectError:
            session.close()
        }
    }

    private func connect(_ packet: SocketPacket) {
        connectTimer?.cancel()
        connectTimer = nil
        let name = packet.namespace
        guard socket(of: name) == nil else { return }
        guard let namespace = registry.namespace(name, create: false) else {
            let refusal = SocketPacket(.connectError, namespace: name, data: ["message": "Invalid namespace"])
            return session.send(refusal.encoded())
        }
        let socket = SocketIOSocket(id: EngineServer.newSessionID(), namespace: namespace, client: self)
        sockets.append(socket)
        let auth = packet.data
        chain(name) { [self] in
            do {
                try await namespace.connect(socket, auth: auth)
                socket.markConnected()
            } catch {
                socket.markLeft()
                session.eventLoop.execute { [self] in
                    sockets.removeAll { $0 === socket }
                }
                let refused = error as? SocketIOConnectionRefused
                var body: [(key: String, value: JSONValue)] = [("message", .string(refused?.message ?? "Connection refused"))]
                if let data = refused?.data { body.append(("data", data)) }
                session.send(SocketPacket(.connectError, namespace: name, data: .object(body)).encoded())
            }
        }
    }

    /// The server disconnected `socket` (its DISCONNECT packet is sent).
    func serverDisconnected(_ socket: SocketIOSocket) {
        session.eventLoop.execute { [self] in
            guard let index = sockets.firstIndex(where: { $0 === socket }) else { return }
            sockets.remove(at: index)
            leave(socket, reason: .serverNamespaceDisconnect)
        }
    }

    private func leave(_ socket: SocketIOSocket, reason: SocketIODisconnectReason) {
        socket.markLeft()
        chain(socket.namespace.name) {
            await socket.namespace.disconnected(socket, reason: reason)
        }
    }

    private func engineClosed(_ reason: EngineSession.CloseReason) {
        connectTimer?.cancel()
        connectTimer = nil
        let why: SocketIODisconnectReason =
            switch reason {
            case .pingTimeout: .pingTimeout
            case .parseError: .parseError
            case .transportError: .transportError
            case .serverClose: .serverShuttingDown
            case .clientClose, .transportClose: .transportClose
            }
        for socket in sockets { leave(socket, reason: why) }
        sockets.removeAll()
    }

    private func socket(of namespace: String) -> SocketIOSocket? {
        sockets.first { $0.namespace.name == namespace }
    }

    private func removeSocket(of namespace: String) -> SocketIOSocket? {
        guard let index = sockets.firstIndex(where: { $0.namespace.name == namespace }) else { return nil }
        return sockets.remove(at: index)
    }

    /// On the session's loop.
    private func chain(_ namespace: String, _ work: @escaping @Sendable () async -> Void) {
        let previous = chains[namespace]?.task
        tasks += 1
        let number = tasks
        let loop = session.eventLoop
        chains[namespace] = (number, Task { [self] in
            await previous?.value
            await work()
            loop.execute { [self] in
                guard chains[namespace]?.number == number else { return }
                chains[namespace] = nil
                // An empty dictionary keeps its storage; an idle connection need not.
                if chains.isEmpty { chains = [:] }
            }
        })
    }
}
