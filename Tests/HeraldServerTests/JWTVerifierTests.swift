import CryptoExtras
import Foundation
import HeraldCore
@testable import HeraldServer
import JWTKit
import Testing

/// The verifier of connection tokens, with keys made here (none is committed).
@Suite struct JWTVerifierTests {
    struct Claims: JWTPayload {
        var sub: String?
        var exp: Double?
        var channels: [String]?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static let secret = "test-secret-\(UUID().uuidString)"
    var inAnHour: Double { Date().timeIntervalSince1970 + 3600 }

    func hs256(_ claims: Claims, secret: String = Self.secret) async throws -> String {
        try await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256).sign(claims)
    }

    func code(_ verifier: JWTVerifier, _ token: String) async -> String? {
        do {
            _ = try await verifier.verify(token)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func validHS256() async throws {
        let token = try await hs256(Claims(sub: "ext.user-1", exp: inAnHour, channels: ["vip"]))
        let grant = try await JWTVerifier(secret: Self.secret).verify(token)
        #expect(grant.subject == "ext.user-1")
        #expect(grant.channels == ["vip"])
    }

    @Test func validRS256() async throws {
        let key = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let token = try await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256).sign(Claims(sub: "bob", exp: inAnHour))
        let verifier = try JWTVerifier(publicKeyPEM: key.publicKey.pemRepresentation)
        #expect(verifier.algorithm == "RS256")
        #expect(try await verifier.verify(token).subject == "bob")
        // An HS256 token made with the public key as its secret (algorithm confusion) is refused.
        let confused = try await hs256(Claims(sub: "bob", exp: inAnHour), secret: key.publicKey.pemRepresentation)
        #expect(await code(verifier, confused) == "invalid_token")
    }

    @Test func validES256AndWrongKey() async throws {
        let key = ES256PrivateKey()
        let token = try await JWTKeyCollection().add(ecdsa: key).sign(Claims(sub: "carol", exp: inAnHour))
        let verifier = try JWTVerifier(publicKeyPEM: key.publicKey.pemRepresentation)
        #expect(verifier.algorithm == "ES256")
        #expect(try await verifier.verify(token).subject == "carol")
        let other = try JWTVerifier(publicKeyPEM: ES256PrivateKey().publicKey.pemRepresentation)
        #expect(await code(other, token) == "invalid_signature")
    }

    @Test func notAKey() {
        #expect(throws: JWTKeyProblem.self) { try JWTVerifier(publicKeyPEM: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") }
    }

    @Test func refusals() async throws {
        let verifier = JWTVerifier(secret: Self.secret)
        let expired = try await hs256(Claims(sub: "dave", exp: Date().timeIntervalSince1970 - 10))
        #expect(await code(verifier, expired) == "token_expired")
        #expect(await code(verifier, try await hs256(Claims(sub: "dave", exp: inAnHour), secret: String(repeating: "w", count: 40))) == "invalid_signature")
        #expect(await code(verifier, try await hs256(Claims(sub: "dave", exp: nil))) == "invalid_token")
        #expect(await code(verifier, try await hs256(Claims(sub: nil, exp: inAnHour))) == "invalid_token")
        #expect(await code(verifier, try await hs256(Claims(sub: "a b!", exp: inAnHour))) == "invalid_token")
        #expect(await code(verifier, try await hs256(Claims(sub: "dave", exp: inAnHour, channels: ["no way"]))) == "invalid_token")
        let payload = Data(#"{"sub":"dave","exp":\#(Int(inAnHour))}"#.utf8).base64URLEncoded
        let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncoded + "." + payload + "."
        #expect(await code(verifier, none) == "invalid_token")
        #expect(await code(verifier, "garbage") == "invalid_token")
        #expect(await code(verifier, "one.dot") == "invalid_token")
        #expect(await code(verifier, "th.r.e.e") == "invalid_token")
        #expect(await code(verifier, "%%%.***.!!!") == "invalid_token")
        let valid = try await hs256(Claims(sub: "dave", exp: inAnHour))
        let parts = valid.split(separator: ".")
        #expect(await code(verifier, "\(parts[0]).\(parts[1]).%%%") == "invalid_token")
        #expect(await code(verifier, String(repeating: "a", count: 100_000) + ".b.c") == "invalid_token")
    }

    /// A members-only channel is readable with a JWT only if its claim lists it; public ones always.
    @Test func channelsClaim() async throws {
        let herald = try makeHerald { $0.jwtSecret = Self.secret }
        _ = try await herald.store.ensureChannel(named: "vip", visibility: .members, at: Date())
        let token = try await hs256(Claims(sub: "eve", exp: inAnHour, channels: ["vip"]))
        let (user, credential) = try await herald.authenticator.identify(token: token)
        guard let user, case .connectionToken(let grant) = credential else { Issue.record("no grant"); return }
        #expect(user.username == "eve")
        let access = ChannelAccess(store: herald.store)
        _ = try await access.readable("vip", by: user, grant: grant)
        _ = try await access.readable("lobby", by: user, grant: grant)
        let narrow = try await herald.authenticator.identify(token: try await hs256(Claims(sub: "eve", exp: inAnHour)))
        guard case .connectionToken(let none) = narrow.credential else { Issue.record("no grant"); return }
        await #expect(throws: HeraldError.self) { try await access.readable("vip", by: user, grant: none) }
        // The user made on first use has no password that logs in.
        #expect(try await herald.store.credentials(named: "eve")?.passwordHash == "!")
    }
}
