import Crypto
import Foundation

/// Signs what a node sends on the bus with the cluster's shared secret, and refuses what another
/// sends unsigned or signed with another: anyone who may PUBLISH on the Redis server (the
/// publishers Herald ingests from, by design) or NOTIFY on the database could otherwise inject
/// events into any stream, or answer a call in a node's name. Without a secret, nothing is signed
/// and everything is taken (a private Redis and database are then the only guard).
///
/// A signed message is `h1:` + the HMAC-SHA256 of the JSON (base64url, 43 characters) + ` ` + the JSON.
struct BusSigner: Sendable {
    static let overhead = 3 + 43 + 1

    private let key: SymmetricKey?

    init(secret: String?) {
        key = secret.map { SymmetricKey(data: Data(SHA256.hash(data: Data($0.utf8)))) }
    }

    var signs: Bool { key != nil }

    func seal(_ message: String) -> String {
        guard let key else { return message }
        return "h1:" + Self.signature(of: Data(message.utf8), key: key) + " " + message
    }

    /// The message without its signature, or nil if it needed one it does not have.
    func open(_ bytes: [UInt8]) -> [UInt8]? {
        guard let key else { return bytes }
        guard bytes.count > Self.overhead, bytes.starts(with: Array("h1:".utf8)), bytes[Self.overhead - 1] == UInt8(ascii: " ")
        else { return nil }
        let signature = String(decoding: bytes[3..<(Self.overhead - 1)], as: UTF8.self)
        let message = Array(bytes[Self.overhead...])
        guard let expected = Self.decodeBase64URL(signature),
            HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: Data(message), using: key)
        else { return nil }
        return message
    }

    private static func signature(of data: Data, key: SymmetricKey) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: data, using: key)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func decodeBase64URL(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
