import EngineIO
import NIOCore
import SocketIO

/// libFuzzer entry point for the Engine.IO and Socket.IO decoders: the input is read as a polling
/// payload, each message goes through the Socket.IO decoder, and the whole input also as one
/// Socket.IO packet and as JSON. Besides not crashing, whatever decodes must survive a round trip,
/// and the text of a JSON object's member (`JSONValue.compactText`) must parse to its value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    let text = String(decoding: bytes, as: UTF8.self)

    if let packets = EnginePayload.decode(text) {
        let again = EnginePayload.decode(EnginePayload.encode(packets))
        precondition(again == packets, "an Engine.IO payload changed in a round trip")
        var decoder = SocketPacketDecoder()
        for packet in packets where packet.kind == .message {
            guard let message = packet.data, let decoded = try? decoder.decode(message) else { continue }
            roundTrip(decoded)
        }
    }

    var decoder = SocketPacketDecoder()
    if let packet = try? decoder.decode(.text(text)) { roundTrip(packet) }
    _ = try? decoder.decode(.binary(ByteBuffer(bytes: bytes)))

    if let value = JSONValue(parsing: Substring(text)) {
        precondition(JSONValue(parsing: Substring(value.description)) == value, "JSON changed in a round trip")
        // A member's text as sent (a publish's `data`) must parse to the member's value.
        if case .object(let members) = value {
            for (key, member) in members where members.last(where: { $0.key == key })?.value == member {
                let compact = JSONValue.compactText(ofMember: key, in: Substring(text))
                precondition(compact.flatMap { JSONValue(parsing: Substring($0)) } == member, "a member's text is not its value")
            }
        }
    }
    _ = JSONValue.compactText(ofMember: "data", in: Substring(text))
    return 0
}

/// Encodes a decoded packet and decodes it again: it must come back the same.
private func roundTrip(_ packet: SocketPacket) {
    var decoder = SocketPacketDecoder()
    var decoded: SocketPacket?
    for message in packet.encoded() {
        decoded = try? decoder.decode(message)
    }
    precondition(decoded == packet, "a Socket.IO packet changed in a round trip: \(packet)")
}
