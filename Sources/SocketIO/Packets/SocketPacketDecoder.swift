import EngineIO
import NIOCore

/// Turns the Engine.IO messages of one connection into Socket.IO packets: a binary packet's text
/// is held until all its attachments have arrived.
public struct SocketPacketDecoder: Sendable {
    /// More attachments than this in one packet is refused as hostile.
    public static let maxAttachments = 64

    private var waiting: (packet: SocketPacket, expected: Int, attachments: [ByteBuffer])?

    public init() {}

    /// The packet completed by this message, nil while attachments are still due.
    public mutating func decode(_ message: EngineMessage) throws(SocketPacketError) -> SocketPacket? {
        switch message {
        case .text(let text):
            guard waiting == nil else { throw .unexpectedAttachment }
            let (packet, count) = try SocketPacket.decode(text, maxAttachments: Self.maxAttachments)
            if count == 0 { return try packet.reconstructed(with: []) }
            waiting = (packet, count, [])
            return nil
        case .binary(let bytes):
            guard var pending = waiting else { throw .unexpectedAttachment }
            pending.attachments.append(bytes)
            if pending.attachments.count < pending.expected {
                waiting = pending
                return nil
            }
            waiting = nil
            return try pending.packet.reconstructed(with: pending.attachments)
        }
    }
}
