import Crypto
import Foundation
import HeraldCore
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Upgrades a `GET /ws` connection that Herald serves itself (see `StreamingChildChannel`):
/// checks the handshake, authenticates the caller if it sent credentials, answers 101, and
/// swaps the HTTP handlers for WebSocket framing and `WebSocketConnectionHandler`.
struct WebSocketHandshake: Sendable {
    private static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    let herald: Herald

    func serve(_ head: HTTPRequestHead, on channel: any NIOCore.Channel) {
        Task {
            do {
                let accept = try Self.acceptKey(for: head)
                let (user, credential) = try await Authenticator(store: herald.store).identify(
                    authorization: head.headers.first(name: "authorization"),
                    sessionCookie: head.headers.cookie(SessionCookie.name))
                if case .session = credential { try Self.checkOrigin(head) }
                channel.eventLoop.execute { switchToWebSocket(channel, accept: accept, user: user) }
            } catch {
                RequestHeadHandler.refuse(channel, with: error)
            }
        }
    }

    /// Answers 101 and replaces the HTTP handlers with WebSocket framing. On the event loop.
    private func switchToWebSocket(_ channel: any NIOCore.Channel, accept: String, user: User?) {
        do {
            let pipeline = channel.pipeline.syncOperations
            channel.write(
                ByteBuffer(
                    string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        + "Connection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"),
                promise: nil)
            pipeline.removeHandler(name: RequestHeadHandler.name, promise: nil)
            try pipeline.addHandler(
                ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: herald.configuration.maxRequestBody)))
            try pipeline.addHandler(WebSocketFrameEncoder())
            try pipeline.addHandler(WebSocketProtocolErrorHandler(isServer: true))
            try pipeline.addHandler(WebSocketConnectionHandler(herald: herald, channel: channel, user: user))
            channel.flush()
        } catch {
            channel.close(promise: nil)
        }
    }

    /// `Sec-WebSocket-Accept` for the request's key, after checking it asks for WebSocket 13.
    static func acceptKey(for head: HTTPRequestHead) throws -> String {
        let upgrade = head.headers.first(name: "upgrade")?.lowercased() ?? ""
        let connection = head.headers[canonicalForm: "connection"].map { $0.lowercased() }
        guard upgrade == "websocket", connection.contains("upgrade"),
            let key = head.headers.first(name: "sec-websocket-key"), !key.isEmpty
        else {
            throw HeraldError.badRequest("This is a WebSocket endpoint: send an Upgrade request.", code: "not_websocket")
        }
        guard head.headers.first(name: "sec-websocket-version") == "13" else {
            throw HeraldError.badRequest("Only WebSocket version 13 is spoken here.", code: "websocket_version")
        }
        return Data(Insecure.SHA1.hash(data: Data((key + guid).utf8))).base64EncodedString()
    }

    static func checkOrigin(_ head: HTTPRequestHead) throws {
        try checkOrigin(head.headers.first(name: "origin"), host: head.headers.first(name: "host"))
    }

    /// Cookie-authenticated upgrades must come from a page of this site: browsers attach cookies to
    /// cross-site WebSocket requests, which SameSite does not stop for same-site subdomains.
    static func checkOrigin(_ origin: String?, host: String?) throws {
        guard let origin else { return }
        let host = host ?? ""
        guard origin == "http://\(host)" || origin == "https://\(host)" else {
            throw HeraldError.forbidden("Cross-site WebSocket requests are refused.")
        }
    }
}
