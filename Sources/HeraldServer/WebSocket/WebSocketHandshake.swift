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
        let query = URI(head.uri).queryParameters
        let authorization = head.headers.first(name: "authorization")
        let sessionCookie = head.headers.cookie(SessionCookie.name)
        // A caller whose token (or lack of one) and channels memory knows is upgraded here, on the
        // loop: no task.
        if let (user, _) = herald.authenticator.identifiedWithoutWaiting(authorization: authorization, sessionCookie: sessionCookie) {
            do {
                let accept = try Self.acceptKey(for: head)
                let opening = try WebSocketOpening.named(in: query, user: user, herald: herald)
                if opening?.isKnownReadable(herald: herald) ?? true {
                    return upgrade(channel, accept: accept, user: user, grant: nil, opening: opening)
                }
            } catch {
                return RequestHeadHandler.refuse(channel, with: error)
            }
        }
        Task {
            do {
                let accept = try Self.acceptKey(for: head)
                let (user, credential) = try await herald.authenticator.identify(authorization: authorization, sessionCookie: sessionCookie)
                if case .session = credential { try Self.checkOrigin(head) }
                var grant: ConnectionGrant?
                if case .connectionToken(let granted) = credential { grant = granted }
                let opening = try await WebSocketOpening.requested(in: query, user: user, grant: grant, herald: herald)
                upgrade(channel, accept: accept, user: user, grant: grant, opening: opening)
            } catch {
                RequestHeadHandler.refuse(channel, with: error)
            }
        }
    }

    /// Answers 101 and subscribes the streams the URL named; with streams, the 101 leaves with
    /// their acks.
    private func upgrade(_ channel: any NIOCore.Channel, accept: String, user: User?, grant: ConnectionGrant?, opening: WebSocketOpening?) {
        let receiver = WebSocketConnectionHandler(herald: herald, channel: channel, user: user, grant: grant, opening: opening != nil)
        channel.eventLoop.executeInline {
            guard switchToWebSocket(channel, accept: accept, receiver: receiver, flush: opening == nil), let opening else { return }
            receiver.open(opening)
        }
    }

    /// Answers 101 and puts the shared frame layer under Herald's protocol. On the event loop.
    /// False when the connection closed meanwhile.
    private func switchToWebSocket(_ channel: any NIOCore.Channel, accept: String, receiver: WebSocketConnectionHandler, flush: Bool) -> Bool {
        do {
            try WebSocketUpgrade.switchProtocols(
                channel, accept: accept, removing: RequestHeadHandler.name,
                maxMessageSize: herald.configuration.maxRequestBody, receiver: receiver, flush: flush)
            return true
        } catch {
            // The frame layer never took the connection (it closed meanwhile): nothing else will
            // tell the session it ended.
            receiver.closed()
            channel.close(promise: nil)
            return false
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
