import HeraldCore
import NIOCore
import NIOHTTP1
import WebSocketFrameLayer

/// Upgrades a `GET /ws` connection that Herald serves itself (see `StreamingChildChannel`):
/// checks the handshake, authenticates the caller if it sent credentials, answers 101, and
/// swaps the HTTP handlers for WebSocket framing and `WebSocketConnectionHandler`.
struct WebSocketHandshake: Sendable {
    let herald: Herald

    func serve(_ head: HTTPRequestHead, on channel: any NIOCore.Channel) {
        Task {
            do {
                let accept = try Self.acceptKey(for: head)
                let (user, credential) = try await herald.authenticator.identify(
                    authorization: head.headers.first(name: "authorization"),
                    sessionCookie: head.headers.cookie(SessionCookie.name))
                if case .session = credential { try Self.checkOrigin(head) }
                var grant: ConnectionGrant?
                if case .connectionToken(let granted) = credential { grant = granted }
                channel.eventLoop.execute { [grant] in switchToWebSocket(channel, accept: accept, user: user, grant: grant) }
            } catch {
                RequestHeadHandler.refuse(channel, with: error)
            }
        }
    }

    /// Answers 101 and puts the shared frame layer under Herald's protocol. On the event loop.
    private func switchToWebSocket(_ channel: any NIOCore.Channel, accept: String, user: User?, grant: ConnectionGrant?) {
        do {
            try WebSocketUpgrade.switchProtocols(
                channel, accept: accept, removing: RequestHeadHandler.name,
                maxMessageSize: herald.configuration.maxRequestBody,
                receiver: WebSocketConnectionHandler(herald: herald, channel: channel, user: user, grant: grant))
        } catch {
            channel.close(promise: nil)
        }
    }

    /// `Sec-WebSocket-Accept` for the request's key, or Herald's error for a request that is not a
    /// WebSocket 13 upgrade.
    static func acceptKey(for head: HTTPRequestHead) throws -> String {
        do {
            return try WebSocketUpgrade.acceptKey(for: head)
        } catch .notWebSocket {
            throw HeraldError.badRequest("This is a WebSocket endpoint: send an Upgrade request.", code: "not_websocket")
        } catch .unsupportedVersion {
            throw HeraldError.badRequest("Only WebSocket version 13 is spoken here.", code: "websocket_version")
        }
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
