import HeraldCore
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Per-request state: who is asking, how they proved it, and the CSRF token of their browser.
public struct HeraldRequestContext: RequestContext, WebSocketRequestContext {
    public enum Credential: Sendable {
        /// A browser session cookie; state-changing requests must also carry the CSRF token.
        case session(digest: String)
        /// A personal access token in `Authorization: Bearer`; not sent by browsers on their own.
        case accessToken
        /// A server API key (`herald keys create`): another backend, acting for no user.
        case serverKey(digest: String)
        /// A connection token (JWT) another backend signed: reads its user stream and granted channels only.
        case connectionToken(ConnectionGrant)
    }

    public var coreContext: CoreRequestContextStorage
    /// The connection: streaming transports write to it directly from the hub.
    public let channel: any NIOCore.Channel
    public let webSocket = WebSocketHandlerReference<Self>()
    public var identity: User?
    public var credential: Credential?
    /// The value of the browser's CSRF cookie (made fresh if it had none); forms echo it back.
    public var csrfToken = ""

    /// True when another backend is calling with a server API key.
    public var isServerKey: Bool {
        if case .serverKey = credential { true } else { false }
    }

    /// Whose allowance a publish spends: the key's, or the user's.
    var publisherKey: String {
        if case .serverKey(let digest) = credential { return "key:\(digest)" }
        return identity.map { "user:\($0.id)" } ?? "anonymous"
    }

    /// The connection token's grant, if the request came with one.
    public var grant: ConnectionGrant? {
        if case .connectionToken(let grant) = credential { grant } else { nil }
    }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bodies are collected explicitly with the configured limit; this covers anything else.
    public var maxUploadSize: Int { 1 << 20 }
}
