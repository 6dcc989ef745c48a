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
        var bytes = Data(capacity: 32)
        for _ in 0..<4 { withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) } }
        return prefix + bytes.base64URLEncoded
    }

    /// The hex SHA-256 of a secret: what is stored and looked up.
    public static func digest(_ secret: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(secret.utf8)) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Compares two secrets in time that does not depend on where they differ.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
