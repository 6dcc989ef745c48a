import HeraldCore
import Hummingbird

/// Per-request state: who is asking, how they proved it, and the CSRF token of their browser.
public struct HeraldRequestContext: RequestContext {
    public enum Credential: Sendable {
        /// A browser session cookie; state-changing requests must also carry the CSRF token.
        case session(digest: String)
        /// A personal access token in `Authorization: Bearer`; not sent by browsers on their own.
        case accessToken
    }

    public var coreContext: CoreRequestContextStorage
    public var identity: User?
    public var credential: Credential?
    /// The value of the browser's CSRF cookie (made fresh if it had none); forms echo it back.
    public var csrfToken = ""

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Bodies are collected explicitly with the configured limit; this covers anything else.
    public var maxUploadSize: Int { 1 << 20 }
}
