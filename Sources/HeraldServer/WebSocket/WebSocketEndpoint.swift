import HTTPTypes
import HeraldCore
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import ServiceLifecycle

/// `GET /ws` through hummingbird-websocket: for a WebSocket requested on a connection that served
/// other requests first, and when permessage-deflate is on. New connections are upgraded by
/// `WebSocketHandshake` instead. The protocol is `WebSocketSession`'s, the same on both paths.
struct WebSocketEndpoint {
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.ws("/ws", shouldUpgrade: shouldUpgrade) { inbound, outbound, context in
            let session = WebSocketSession(
                herald: herald, channel: context.requestContext.channel, user: context.requestContext.identity,
                grant: context.requestContext.grant)
            defer { session.close() }
            // Hummingbird answers an upgrade refused in `shouldUpgrade` with a bare 400: the
            // streams named in the URL are checked here instead, and one that cannot be
            // subscribed gets Herald's error frame and a close (1008), not the upgrade's JSON error.
            do {
                let query = context.request.uri.queryParameters
                let requestContext = context.requestContext
                if let opening = try await WebSocketOpening.requested(
                    in: query, user: requestContext.identity, grant: requestContext.grant, herald: herald)
                {
                    await session.subscribe(opening)
                }
            } catch {
                session.refuse((error as? HeraldError) ?? .internal)
                try await outbound.close(.policyViolation, reason: "the streams in the URL cannot be subscribed")
                return
            }
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

    @Sendable func shouldUpgrade(_ request: Request, context: HeraldRequestContext) async throws -> RouterShouldUpgrade {
        if case .session = context.credential {
            try WebSocketHandshake.checkOrigin(request.headers[.origin], host: request.head.authority)
        }
        return .upgrade([:])
    }
}
