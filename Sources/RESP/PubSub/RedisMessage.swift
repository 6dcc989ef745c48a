import NIOCore

/// A message published on a channel this node subscribed to, directly or through a pattern.
public struct RedisMessage: Sendable, Equatable {
    public var channel: String
    /// The pattern that matched, for messages received through PSUBSCRIBE.
    public var pattern: String?
    public var payload: ByteBuffer

    public init(channel: String, pattern: String? = nil, payload: ByteBuffer) {
        self.channel = channel
        self.pattern = pattern
        self.payload = payload
    }

    /// What a subscribed connection pushes, read as RESP2 sends it: `["message", channel, payload]`,
    /// `["pmessage", pattern, channel, payload]`, or something else (confirmations, pongs).
    enum Push: Equatable {
        case message(RedisMessage)
        case subscribed(count: Int64)
        case pong
        case unexpected(RESPValue)
    }

    static func classify(_ value: RESPValue) -> Push {
        guard case .array(let items?) = value, let kind = items.first?.string else { return .unexpected(value) }
        switch (kind, items.count) {
        case ("message", 3):
            if let channel = items[1].string, case .bulkString(let payload?) = items[2] {
                return .message(RedisMessage(channel: channel, payload: payload))
            }
        case ("pmessage", 4):
            if let pattern = items[1].string, let channel = items[2].string, case .bulkString(let payload?) = items[3] {
                return .message(RedisMessage(channel: channel, pattern: pattern, payload: payload))
            }
        case ("subscribe", 3), ("psubscribe", 3):
            if case .integer(let count) = items[2] { return .subscribed(count: count) }
        case ("pong", 2):
            return .pong
        default:
            break
        }
        return .unexpected(value)
    }
}
