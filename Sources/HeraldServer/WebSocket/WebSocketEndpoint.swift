import HTTPTypes
import HeraldCore
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import ServiceLifecycle

/// `GET /ws`: the WebSocket transport (protocol in `WebSocketSession` and the README).
struct WebSocketEndpoint {
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.ws("/ws", shouldUpgrade: shouldUpgrade) { inbound, outbound, context in
            let session = WebSocketSession(
                herald: herald, channel: context.requestContext.channel, user: context.requestContext.identity)
            defer { session.close() }
            let limit = herald.configuration.maxRequestBody
            try await withGracefulShutdownHandler {
                do {
                    for try await message in inbound.messages(maxSize: limit) {
                        switch message {
                        case .text(let text): await session.handle(text)
                        case .binary: session.refuse(.badRequest("Commands are JSON text frames.", code: "binary_frame"))
                        }
                    }
                } catch {
                    // Past the size limit: say why, then close with the protocol's own code.
                    session.refuse(.tooLarge(limit: limit))
                    try await outbound.close(.messageTooLarge, reason: "message larger than \(limit) bytes")
                }
            } onGracefulShutdown: {
                // The client reconnects (elsewhere) and resumes from its cursors.
                session.goAway()
            }
        }
    }

    /// Cookie-authenticated upgrades must come from a page of this site: browsers attach cookies to
    /// cross-site WebSocket requests, which SameSite does not stop for same-site subdomains.
    @Sendable func shouldUpgrade(_ request: Request, context: HeraldRequestContext) async throws -> RouterShouldUpgrade {
        if case .session = context.credential, let origin = request.headers[.origin] {
            let host = request.head.authority ?? ""
            guard origin == "http://\(host)" || origin == "https://\(host)" else {
                throw HeraldError.forbidden("Cross-site WebSocket requests are refused.")
            }
        }
        return .upgrade([:])
    }
}
