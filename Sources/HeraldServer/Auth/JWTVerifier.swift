import Foundation
import HTTPTypes
import HeraldCore
import JWTKit

/// What a verified connection token (JWT) grants: the user stream `sub` names, the channels its
/// `channels` claim lists (members-only ones included), until `exp`.
public struct ConnectionGrant: Sendable, Equatable {
    public let subject: String
    public let channels: Set<String>
    public let expiresAt: Date
}

/// A key Herald cannot use for connection tokens, said at start.
public struct JWTKeyProblem: Error, CustomStringConvertible {
    public let description: String
}

/// Verifies connection tokens other backends sign for their users: HS256 with `--jwt-secret`, or
/// RS256 / ES256 with the public key in `--jwt-public-key`. Built once per server. The header's
/// `alg` must be the configured key's (so `none`, and an HS256 token made with a public key, are
/// refused before any signature check); `exp` is required; `sub` must be a valid username.
public struct JWTVerifier: Sendable {
    /// Longer tokens are refused before any work.
    public static let maxTokenBytes = 8192

    /// `HS256`, `RS256` or `ES256`: the only `alg` accepted.
    public let algorithm: String
    private let keys: JWTKeyCollection
    private let ready: Task<Void, Never>

    /// An HS256 verifier.
    public init(secret: String) {
        let keys = JWTKeyCollection()
        let key = HMACKey(from: secret)
        self.keys = keys
        self.algorithm = "HS256"
        self.ready = Task { await keys.add(hmac: key, digestAlgorithm: .sha256) }
    }

    /// An RS256 or ES256 verifier, from a PEM public key.
    public init(publicKeyPEM pem: String) throws(JWTKeyProblem) {
        let keys = JWTKeyCollection()
        self.keys = keys
        if let key = try? ES256PublicKey(pem: pem) {
            self.algorithm = "ES256"
            self.ready = Task { await keys.add(ecdsa: key) }
        } else if let key = try? Insecure.RSA.PublicKey(pem: pem) {
            self.algorithm = "RS256"
            self.ready = Task { await keys.add(rsa: key, digestAlgorithm: .sha256) }
        } else {
            throw JWTKeyProblem(
                description: "The --jwt-public-key file is neither an RSA nor an EC P-256 public key in PEM form.")
        }
    }

    /// The verifier the configuration asks for, or nil when it sets no key.
    public static func configured(_ configuration: HeraldConfiguration) throws(JWTKeyProblem) -> JWTVerifier? {
        if let problem = configuration.jwtProblem { throw JWTKeyProblem(description: problem) }
        if let secret = configuration.jwtSecret { return JWTVerifier(secret: secret) }
        guard let path = configuration.jwtPublicKeyPath else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JWTKeyProblem(description: "The --jwt-public-key file \(path) cannot be read.")
        }
        return try JWTVerifier(publicKeyPEM: String(decoding: data, as: UTF8.self))
    }

    private struct Header: Decodable {
        var alg: String?
    }

    private struct Payload: JWTPayload {
        var sub: String
        var exp: Double
        var nbf: Double?
        var channels: [String]?
        // Claims are checked below, where each gets its own answer.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The grant of a token, or the 401 that says what is wrong with it. Never logs the token.
    func verify(_ token: String, now: Date = Date()) async throws(HeraldError) -> ConnectionGrant {
        guard token.utf8.count <= Self.maxTokenBytes else {
            throw .invalidToken("The token is longer than \(Self.maxTokenBytes) bytes.")
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .invalidToken("A JWT has three parts separated by two dots.") }
        guard let headerData = Data(base64URLEncoded: String(parts[0])),
            let header = try? JSONDecoder().decode(Header.self, from: headerData)
        else { throw .invalidToken("The token's header is not base64url JSON.") }
        guard let alg = header.alg, alg.lowercased() != "none" else {
            throw .invalidToken("Unsigned tokens (alg none) are refused.")
        }
        guard alg == algorithm else { throw .invalidToken("This server accepts \(algorithm) tokens only, not \(alg).") }
        await ready.value
        let payload: Payload
        do {
            payload = try await keys.verify(token, as: Payload.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .invalidSignature
        } catch {
            throw .invalidToken("The token is malformed, or lacks sub or exp.")
        }
        guard Date(timeIntervalSince1970: payload.exp) > now else {
            throw .init(status: .unauthorized, code: "token_expired", message: "The token has expired.")
        }
        if let nbf = payload.nbf, Date(timeIntervalSince1970: nbf) > now {
            throw .invalidToken("The token is not valid yet (nbf).")
        }
        if let problem = Username.problem(with: payload.sub) {
            throw .invalidToken("The token's sub is not a valid username: \(problem)")
        }
        let channels = payload.channels ?? []
        if let bad = channels.first(where: { Channel.problem(withName: $0) != nil }) {
            throw .invalidToken("The token's channels claim names an invalid channel: \(bad.prefix(64))")
        }
        return ConnectionGrant(
            subject: payload.sub, channels: Set(channels), expiresAt: Date(timeIntervalSince1970: payload.exp))
    }
}

extension HeraldError {
    static func invalidToken(_ message: String) -> Self {
        .init(status: .unauthorized, code: "invalid_token", message: message)
    }
    static let invalidSignature = HeraldError(
        status: .unauthorized, code: "invalid_signature", message: "The token's signature does not verify with this server's key.")
    static let jwtNotConfigured = HeraldError(
        status: .unauthorized, code: "jwt_not_configured",
        message: "This server accepts no JWTs: it has no --jwt-secret or --jwt-public-key.")
    static let readOnlyToken = HeraldError(
        status: .forbidden, code: "read_only_token",
        message: "A connection token (JWT) only reads: its user stream and channels, over GET /api/notifications, /api/events, /ws and Socket.IO.")
    static func channelNotGranted(_ name: String) -> Self {
        .init(
            status: .forbidden, code: "channel_not_granted",
            message: "The token's channels claim does not cover the members-only channel \(name).")
    }
}
