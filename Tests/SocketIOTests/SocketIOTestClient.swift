import EngineIO
import Foundation
import NIOCore
import NIOPosix

@testable import SocketIO

/// A Socket.IO client over the engine's polling interface, with no HTTP in between: each layer
/// is testable alone.
struct SocketIOTestClient {
    let engine: EngineServer
    private(set) var sid = ""

    init(_ server: SocketIOServer) async throws {
        engine = server.engine
        let handshake = await request("GET", body: nil)
        guard handshake.hasPrefix("0"),
            let json = try JSONSerialization.jsonObject(with: Data(handshake.dropFirst().utf8)) as? [String: Any],
            let sid = json["sid"] as? String
        else { throw Failure(description: "no handshake: \(handshake)") }
        self.sid = sid
    }

    private func request(_ method: String, body: String?) async -> String {
        var query = ["EIO": "4", "transport": "polling"]
        if !sid.isEmpty { query["sid"] = sid }
        let response = await engine.handlePolling(
            EngineRequest(method: method, query: query, headers: [:]), on: MultiThreadedEventLoopGroup.singleton.next()
        ) { _ in ByteBuffer(string: body ?? "") }
        return String(buffer: response.body)
    }

    /// Sends Socket.IO packets (their text), each as an Engine.IO message.
    func send(_ packets: String...) async {
        _ = await request("POST", body: packets.map { "4" + $0 }.joined(separator: "\u{1e}"))
    }

    /// Posts a raw polling payload.
    func sendPayload(_ payload: String) async {
        _ = await request("POST", body: payload)
    }

    /// The Socket.IO packets of the next poll, in order (binary attachments as `<b:bytes>`).
    func receive() async -> [String] {
        let body = await request("GET", body: nil)
        return body.split(separator: "\u{1e}").map { part in
            if part.hasPrefix("4") { return String(part.dropFirst()) }
            if part.hasPrefix("b") { return "<b:\(part.dropFirst())>" }
            return "engine:" + part
        }
    }

    /// Polls until `count` packets have arrived.
    func receive(count: Int) async -> [String] {
        var packets: [String] = []
        while packets.count < count { packets += await receive() }
        return packets
    }

    /// Connects to `namespace` and returns the socket id from the CONNECT reply.
    func connect(_ namespace: String = "/", auth: String = "") async throws -> String {
        let prefix = namespace == "/" ? "" : namespace + ","
        await send("0" + prefix + auth)
        let reply = await receive()[0]
        guard reply.hasPrefix("0" + prefix),
            let json = try JSONSerialization.jsonObject(with: Data(reply.dropFirst(1 + prefix.count).utf8)) as? [String: Any],
            let id = json["sid"] as? String
        else { throw Failure(description: "not connected: \(reply)") }
        return id
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }
}
