import NIOCore

/// One Engine.IO v4 packet: a type and, for some types, a payload.
///
/// On the wire a text packet is its type digit followed by its text (`4hello`); a binary message
/// is raw bytes on a WebSocket and `b` + base64 in a polling payload. Only `message` packets carry
/// binary data.
public struct EnginePacket: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case open = 0, close, ping, pong, message, upgrade, noop
    }

    public var kind: Kind
    public var data: EngineMessage?

    public init(_ kind: Kind, _ data: EngineMessage? = nil) {
        self.kind = kind
        self.data = data
    }

    public static func message(_ data: EngineMessage) -> EnginePacket { EnginePacket(.message, data) }

    /// Parses one text packet. Nil for anything that is not a type digit followed by text.
    public init?(text: Substring) {
        guard let first = text.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "6"),
            let kind = Kind(rawValue: first - UInt8(ascii: "0"))
        else { return nil }
        let rest = text.dropFirst()
        self.kind = kind
        self.data = rest.isEmpty && kind != .message ? nil : .text(String(rest))
    }

    /// A binary WebSocket message: a `message` packet with bytes.
    public init(binary: ByteBuffer) {
        self.kind = .message
        self.data = .binary(binary)
    }

    /// The text form (type digit and text), for a text frame or a polling payload. Binary packets
    /// have no text form here: see `EnginePayload` and `webSocketMessage`.
    public var text: String? {
        switch data {
        case nil: String(kind.rawValue)
        case .text(let text): String(kind.rawValue) + text
        case .binary: nil
        }
    }
}

/// What a `message` packet carries.
public enum EngineMessage: Sendable, Equatable {
    case text(String)
    case binary(ByteBuffer)
}
