import EngineIO
import Foundation
import NIOCore
import NIOPosix

/// Drives an `EngineServer` the way a polling client does, without HTTP: the engine is HTTP-agnostic.
struct PollingClient {
    let engine: EngineServer
    var sid = ""

    static func request(_ method: String, _ query: [String: String]) -> EngineRequest {
        EngineRequest(method: method, query: query, headers: [:])
    }

    func send(_ method: String, query: [String: String], body: String = "") async -> EngineResponse {
        await engine.handlePolling(Self.request(method, query), on: MultiThreadedEventLoopGroup.singleton.next()) { limit in
            body.utf8.count > limit ? nil : ByteBuffer(string: body)
        }
    }

    /// The handshake's JSON, after the leading `0`.
    mutating func open() async throws -> [String: Any] {
        let response = await send("GET", query: ["EIO": "4", "transport": "polling"])
        let text = String(buffer: response.body)
        guard response.status == 200, text.hasPrefix("0"),
            let json = try JSONSerialization.jsonObject(with: Data(text.dropFirst().utf8)) as? [String: Any],
            let sid = json["sid"] as? String
        else { throw Failure(description: "handshake failed: \(response.status) \(text)") }
        self.sid = sid
        return json
    }

    func poll() async -> (status: Int, body: String) {
        let response = await send("GET", query: ["EIO": "4", "transport": "polling", "sid": sid])
        return (response.status, String(buffer: response.body))
    }

    func post(_ body: String) async -> (status: Int, body: String) {
        let response = await send("POST", query: ["EIO": "4", "transport": "polling", "sid": sid], body: body)
        return (response.status, String(buffer: response.body))
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }
}
