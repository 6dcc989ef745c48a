import HeraldCore
import HummingbirdCore
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
                let opening = try await WebSocketOpening.requested(
                    in: URI(head.uri).queryParameters, user: user, grant: grant, herald: herald)
                let receiver = WebSocketConnectionHandler(
                    herald: herald, channel: channel, user: user, grant: grant, opening: opening != nil)
                // Queued before the subscriptions' own work on the loop, so the 101 goes first;
                // with streams to subscribe, it leaves with their acks.
                channel.eventLoop.execute { switchToWebSocket(channel, accept: accept, receiver: receiver, flush: opening == nil) }
                if let opening { await receiver.open(opening) }
            } catch {
                RequestHeadHandler.refuse(channel, with: error)
            }
        }
    }

    /// Answers 101 and puts the shared frame layer under Herald's protocol. On the event loop.
    private func switchToWebSocket(_ channel: any NIOCore.Channel, accept: String, receiver: WebSocketConnectionHandler, flush: Bool) {
        do {
            try WebSocketUpgrade.switchProtocols(
                channel, accept: accept, removing: RequestHeadHandler.name,
                maxMessageSize: herald.configuration.maxRequestBody, receiver: receiver, flush: flush)
        } catch {
            // The frame layer never took the connection (it closed meanwhile): nothing else will
            // tell the session it ended.
            receiver.closed()
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
