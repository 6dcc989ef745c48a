import Crypto
import Foundation

/// Random bearer secrets (session cookies, access tokens, CSRF tokens) and the digests stored for them.
///
/// Only digests reach the database, so a leaked database file does not hand out live sessions or tokens.
public enum Secret {
    /// 32 random bytes from the system's cryptographic generator, base64url without padding,
    /// after an optional prefix that tells a reader what kind of secret it is.
    public static func generate(prefix: String = "") -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + Data(bytes).base64URLEncoded
    }

    /// The hex SHA-256 of a secret: what is stored and looked up.
    public static func digest(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares two secrets in time that does not depend on where they differ.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
