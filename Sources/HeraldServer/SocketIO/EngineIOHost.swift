import EngineIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import WebSocketFrameLayer

/// Carries an Engine.IO server on Herald's HTTP server: polling requests through the router,
/// WebSockets on the lean connection path (`StreamingChildChannel`), on the same frame layer as
/// `/ws`. An idle Socket.IO WebSocket is thus a socket, the frame handlers and its session.
public struct EngineIOHost: Sendable {
    public let engine: EngineServer
    /// Checks a WebSocket request before the upgrade (Herald: the origin of cookie-authenticated
    /// pages); a refusal is answered with its status and JSON error.
    let admitWebSocket: @Sendable (HTTPRequestHead) throws -> Void
    /// In a cluster: polling requests for other nodes' sessions go to them.
    let forwarding: PollingForwarding?

    public init(engine: EngineServer) {
        self.init(engine: engine, admitWebSocket: { _ in }, forwarding: nil)
    }

    init(
        engine: EngineServer, admitWebSocket: @escaping @Sendable (HTTPRequestHead) throws -> Void,
        forwarding: PollingForwarding?
    ) {
        self.engine = engine
        self.admitWebSocket = admitWebSocket
        self.forwarding = forwarding
    }

    /// Adds the polling routes. Add them before any middleware that answers for itself
    /// (authentication, CSRF): the engine's requests carry their own session id.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        let path = RouterPath(engine.configuration.path)
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch, .options] {
            router.on(path, method: method) { request, _ in
                await respond(to: request)
            }
        }
    }

    private func respond(to request: Request) async -> Response {
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let engineRequest = EngineRequest(method: request.method.rawValue, query: query, headers: headers)
        // A WebSocket on a connection that served other requests first is not taken here, and an
        // Upgrade request must name the websocket transport.
        if query["transport"] == "websocket" || headers["upgrade"]?.lowercased() == "websocket" {
            let known = ["polling", "websocket"].contains(query["transport"] ?? "")
            let error: EngineError = known ? .badRequest : .unknownTransport
            return Self.response(.error(error))
        }
        if let forwarding, let owner = forwarding.owner(of: query["sid"]) {
            let body = request.method == .post ? try? await request.body.collect(upTo: engine.configuration.maxPayload) : nil
            return Self.response(await forwarding.forward(engineRequest, body: body, to: owner))
        }
        let body = request.body
        let answer = await engine.handlePolling(engineRequest, on: MultiThreadedEventLoopGroup.singleton.next()) { limit in
            try? await body.collect(upTo: limit)
        }
        return Self.response(answer)
    }

    private static func response(_ answer: EngineResponse) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = answer.contentType
        fields[.cacheControl] = "no-store"
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        return Response(
            status: HTTPResponse.Status(code: answer.status), headers: fields, body: .init(byteBuffer: answer.body))
    }

    private static let handshakeOnly: Set<String> = [
        "connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
    ]

    /// The lean route for this engine's WebSockets: `GET <path>?…transport=websocket…`.
    var webSocketRoute: LeanRoute {
        let path = engine.configuration.path
        let prefixes = [Array("GET \(path)".utf8), Array("GET \(path.hasSuffix("/") ? String(path.dropLast()) : path)?".utf8)]
        let marker = Array("transport=websocket".utf8)
        return LeanRoute(
            matches: { line in
                prefixes.contains { line.starts(with: $0) } && line.firstRange(of: marker) != nil
            },
            serve: { head, channel in serveWebSocket(head, on: channel) })
    }

    /// The upgrade of a session another node holds: that node gets the connection.
    private func relayWebSocket(_ head: HTTPRequestHead, on channel: any Channel, to owner: String, through forwarding: PollingForwarding) {
        Task {
            do {
                guard let (host, port) = await forwarding.address(of: owner) else { throw EngineError.unknownSession }
                try await WebSocketRelay.relay(head, from: channel, removing: RequestHeadHandler.name, to: host, port: port)
            } catch {
                RequestHeadHandler.refuse(channel, status: EngineError.unknownSession.status, json: EngineError.unknownSession.body)
            }
        }
    }

    private func serveWebSocket(_ head: HTTPRequestHead, on channel: any Channel) {
        let components = URLComponents(string: head.uri)
        var query: [String: String] = [:]
        for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
        // The session keeps its request's headers for the layers above, less those of the
        // WebSocket handshake itself, which mean nothing once it is done.
        var headers: [String: String] = [:]
        for (name, value) in head.headers {
            let name = name.lowercased()
            if !Self.handshakeOnly.contains(name) { headers[name] = value }
        }
        let request = EngineRequest(
            method: head.method.rawValue, query: query, headers: headers,
            remoteAddress: channel.remoteAddress?.ipAddress)
        if let forwarding, let owner = forwarding.owner(of: query["sid"]), head.headers.first(name: WebSocketRelay.header) == nil {
            return relayWebSocket(head, on: channel, to: owner, through: forwarding)
        }
        do {
            try admitWebSocket(head)
            let receiver = try engine.webSocketReceiver(for: request)
            // Not an Upgrade request, or not WebSocket 13: the engine's own "bad request".
            guard let accept = try? WebSocketUpgrade.acceptKey(for: head) else { throw EngineError.badRequest }
            channel.eventLoop.execute {
                do {
                    try WebSocketUpgrade.switchProtocols(
                        channel, accept: accept, removing: RequestHeadHandler.name,
                        maxMessageSize: engine.configuration.maxPayload, receiver: receiver)
                } catch {
                    channel.close(promise: nil)
                }
            }
        } catch let error as EngineError {
            RequestHeadHandler.refuse(channel, status: error.status, json: error.body)
        } catch {
            RequestHeadHandler.refuse(channel, with: error)
        }
    }
}
