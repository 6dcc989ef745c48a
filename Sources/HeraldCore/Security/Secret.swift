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

    /// The hex SHA-256 of a secret: what is stored and looked up. Every authenticated request
    /// takes one: the bytes are hashed where the string keeps them and the hex written straight
    /// into the result (through `Data` and arrays it was a fortieth of a lone publish's CPU).
    public static func digest(_ secret: String) -> String {
        var hasher = SHA256()
        var secret = secret
        secret.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hasher.finalize().withUnsafeBytes { digest in
            String(unsafeUninitializedCapacity: digest.count * 2) { text in
                for (index, byte) in digest.enumerated() {
                    text[2 * index] = hexDigits[Int(byte >> 4)]
                    text[2 * index + 1] = hexDigits[Int(byte & 0x0f)]
                }
                return digest.count * 2
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Compares two secrets in time that does not depend on where they differ.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
