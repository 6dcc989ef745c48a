import Foundation
import NIOCore

/// The body of a polling request or response: packets joined by the record separator `\x1e`,
/// binary ones as `b` followed by their base64.
public enum EnginePayload {
    static let separator = Character("\u{1e}")

    /// Parses a payload. Nil when any packet in it is malformed: the whole payload is refused.
    public static func decode(_ body: String) -> [EnginePacket]? {
        var packets: [EnginePacket] = []
        for part in body.split(separator: separator, omittingEmptySubsequences: false) {
            if part.first == "b" {
                let text = part.dropFirst()
                // Foundation forgives extra padding; the protocol's base64 does not.
                guard text.utf8.count % 4 == 0, !text.hasSuffix("==="), let bytes = Data(base64Encoded: String(text))
                else { return nil }
                packets.append(EnginePacket(binary: ByteBuffer(bytes: bytes)))
            } else {
                guard let packet = EnginePacket(text: part) else { return nil }
                packets.append(packet)
            }
        }
        return packets
    }

    public static func encode(_ packets: [EnginePacket]) -> String {
        packets.map { packet in
            if case .binary(let bytes) = packet.data {
                return "b" + Data(bytes.readableBytesView).base64EncodedString()
            }
            return packet.text ?? ""
        }.joined(separator: String(separator))
    }
}
