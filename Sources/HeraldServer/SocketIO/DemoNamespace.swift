import NIOCore
import SocketIO
import Synchronization

/// `/test`: the server of Flask-SocketIO's example app, written with Herald's Swift API, for the
/// `/socketio-demo` page. Every connection is greeted with `my_response {"data": "Connected"}`;
/// `my_event` is answered with `my_response` carrying the same data (binary included) and a count
/// of the socket's events; the other events are the example's: broadcast, rooms, closing a room,
/// a disconnect the client acknowledges first, ping. A background task emits to everyone every
/// `tick` (the example's "Server generated event").
struct DemoNamespace: SocketIONamespaceHandler {
    private final class Ticker: Sendable {
        let started = Mutex(false)
    }

    let tick: Duration
    private let ticker = Ticker()

    init(tick: Duration = .seconds(10)) {
        self.tick = tick
    }

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async throws {
        startTicking(socket.namespace)
        socket.userData = Counter()
        socket.emit("my_response", ["data": "Connected", "count": 0])
    }

    func handler(for event: String) -> SocketIOEventHandler? {
        switch event {
        case "my_event": myEvent
        case "my_broadcast_event": myBroadcastEvent
        case "join": join
        case "leave": leave
        case "close_room": closeRoom
        case "my_room_event": myRoomEvent
        case "disconnect_request": disconnectRequest
        case "my_ping": myPing
        default: nil
        }
    }

    func myEvent(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        socket.emit("my_response", ["data": data(arguments), "count": count(socket)])
        return []
    }

    func myBroadcastEvent(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        socket.namespace.emit("my_response", ["data": data(arguments), "count": count(socket)])
        return []
    }

    func join(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        guard let room = arguments.first?["room"]?.stringValue else { return [] }
        socket.join(room)
        socket.emit("my_response", ["data": .string("In rooms: " + roomList(socket)), "count": count(socket)])
        return []
    }

    func leave(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        guard let room = arguments.first?["room"]?.stringValue else { return [] }
        socket.leave(room)
        socket.emit("my_response", ["data": .string("In rooms: " + roomList(socket)), "count": count(socket)])
        return []
    }

    func closeRoom(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        guard let room = arguments.first?["room"]?.stringValue else { return [] }
        socket.namespace.to(room).emit("my_response", ["data": .string("Room \(room) is closing."), "count": count(socket)])
        for sid in socket.namespace.sids(in: room) { socket.namespace.socket(id: sid)?.leave(room) }
        return []
    }

    func myRoomEvent(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        guard let room = arguments.first?["room"]?.stringValue else { return [] }
        socket.namespace.to(room).emit("my_response", ["data": data(arguments), "count": count(socket)])
        return []
    }

    /// Says goodbye, and disconnects once the client has acknowledged it.
    func disconnectRequest(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        _ = try? await socket.emitWithAck("my_response", ["data": "Disconnected!", "count": count(socket)], timeout: .seconds(5))
        socket.disconnect()
        return []
    }

    func myPing(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
        socket.emit("my_pong")
        return []
    }

    // MARK: Helpers

    private final class Counter: Sendable {
        let value = Mutex(0)
        func next() -> Int { value.withLock { $0 += 1; return $0 } }
    }

    private func count(_ socket: SocketIOSocket) -> JSONValue {
        .number(Double((socket.userData as? Counter)?.next() ?? 0))
    }

    private func data(_ arguments: [JSONValue]) -> JSONValue {
        arguments.first?["data"] ?? arguments.first ?? .null
    }

    private func roomList(_ socket: SocketIOSocket) -> String {
        socket.rooms.sorted().joined(separator: ", ")
    }

    /// The example's background task: an emit from outside any handler, to the whole namespace.
    private func startTicking(_ namespace: SocketIONamespace) {
        guard ticker.started.withLock({ started in defer { started = true }; return !started }) else { return }
        let tick = self.tick
        Task {
            var count = 0
            while true {
                try? await Task.sleep(for: tick)
                count += 1
                namespace.emit("my_response", ["data": "Server generated event", "count": .number(Double(count))])
            }
        }
    }
}
