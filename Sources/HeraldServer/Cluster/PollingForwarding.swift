import EngineIO
import Foundation
import HeraldCore
import NIOCore
import NIOPosix
import Synchronization

/// Engine.IO long-polling without load-balancer affinity: a polling request that reaches a node
/// not holding its session is forwarded over the cluster bus to the node that does (its tag opens
/// the session id), which answers it as its own; the answer comes back the same way. Centrifugo
/// forwards its HTTP streaming this way; no Socket.IO server does.
///
/// A WebSocket upgrade that reaches the wrong node is relayed to the right one
/// (`WebSocketRelay`), whose address that node tells over the bus.
struct PollingForwarding: Sendable {
    let bus: ClusterBus
    let engine: EngineServer
    /// Where the other nodes reach this one (`host:port`), once it listens.
    let address: AddressBox
    /// The longest a forwarded request waits for its answer: a held GET lasts up to a ping interval.
    let timeout: Duration

    /// The node that holds session `sid`, when another one does: one this engine does not hold,
    /// whose id opens with another node's.
    func owner(of sid: String?) -> String? {
        guard let sid, sid.count > ClusterBus.nodeIDLength, !engine.hasSession(sid) else { return nil }
        let tag = String(sid.prefix(ClusterBus.nodeIDLength))
        guard tag != bus.nodeID, ClusterBus.isNodeID(tag) else { return nil }
        return tag
    }

    /// Starts answering the other nodes' forwarded requests.
    func serve() {
        bus.onCall { [engine, address] text in
            if text == Self.addressQuery { return address.value ?? "" }
            guard let forwarded = try? JSONDecoder().decode(Forwarded.self, from: Data(text.utf8)) else {
                return Self.encode(Answer(.error(.badRequest)))
            }
            let body = forwarded.body.flatMap { Data(base64Encoded: $0) }.map { ByteBuffer(bytes: $0) }
            let request = EngineRequest(method: forwarded.method, query: forwarded.query, headers: [:])
            let response = await engine.handlePolling(request, on: MultiThreadedEventLoopGroup.singleton.next()) { limit in
                guard let body, body.readableBytes <= limit else { return nil }
                return body
            }
            return Self.encode(Answer(response))
        }
    }

    func forward(_ request: EngineRequest, body: ByteBuffer?, to owner: String) async -> EngineResponse {
        // Only what the engine reads of a request for an open session: never the headers, whose
        // cookies and tokens have no business on the bus.
        let forwarded = Forwarded(
            method: request.method, query: request.query,
            body: body.map { Data($0.readableBytesView).base64EncodedString() })
        guard let text = await bus.call(owner, Self.encode(forwarded), timeout: timeout),
            let answer = try? JSONDecoder().decode(Answer.self, from: Data(text.utf8))
        else {
            // The node is gone (or too slow): the session with it; the client opens a new one.
            return .error(.unknownSession)
        }
        return EngineResponse(
            status: answer.status, contentType: answer.contentType, headers: answer.headers,
            body: ByteBuffer(bytes: Data(base64Encoded: answer.body) ?? Data()))
    }

    static let addressQuery = "address?"

    /// Where `owner` listens, as it says: (host, port).
    func address(of owner: String) async -> (String, Int)? {
        guard let answer = await bus.call(owner, Self.addressQuery, timeout: .seconds(3)),
            let colon = answer.lastIndex(of: ":"), let port = Int(answer[answer.index(after: colon)...])
        else { return nil }
        return (String(answer[..<colon]), port)
    }

    /// A polling request as it travels to the node holding its session.
    struct Forwarded: Codable {
        var method: String
        var query: [String: String]
        var body: String?
    }

    /// Its answer, on the way back.
    struct Answer: Codable {
        var status: Int
        var contentType: String
        var headers: [String: String]
        var body: String

        init(_ response: EngineResponse) {
            status = response.status
            contentType = response.contentType
            headers = response.headers
            body = Data(response.body.readableBytesView).base64EncodedString()
        }
    }

    static func encode(_ value: some Encodable) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// This node's address for the others, set once the server listens.
final class AddressBox: Sendable {
    private let stored = Mutex<String?>(nil)

    var value: String? { stored.withLock { $0 } }

    func set(_ address: String) {
        stored.withLock { $0 = address }
    }
}
