import EngineIO
import NIOCore

/// One Socket.IO v5 packet: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`, carried in
/// one Engine.IO message, followed by one binary message per attachment for the binary types.
public struct SocketPacket: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck
    }

    public var kind: Kind
    public var namespace: String
    public var id: Int?
    public var data: JSONValue?

    public init(_ kind: Kind, namespace: String = "/", id: Int? = nil, data: JSONValue? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.id = id
        self.data = data
    }

    /// The Engine.IO messages for this packet: its text, then its attachments. An event or ack
    /// whose data holds binary values becomes the binary type, with placeholders in the text.
    public func encoded() -> [EngineMessage] {
        var attachments: [ByteBuffer] = []
        var json = ""
        data?.write(to: &json, attachments: &attachments)
        var kind = self.kind
        if !attachments.isEmpty {
            if kind == .event { kind = .binaryEvent }
            if kind == .ack { kind = .binaryAck }
        }
        var text = String(kind.rawValue)
        if kind == .binaryEvent || kind == .binaryAck { text += "\(attachments.count)-" }
        if namespace != "/" { text += namespace + "," }
        if let id { text += String(id) }
        text += json
        return [.text(text)] + attachments.map { .binary($0) }
    }

    /// The event's name and arguments, for an event packet.
    public var eventName: String? { data?.arrayValue?.first?.stringValue }
}

/// Why a packet was refused. The spec's answer to each is closing the connection.
public enum SocketPacketError: Error, Equatable {
    case unknownType
    case badAttachmentCount
    case badAckID
    case badPayload
    /// A binary message that no packet was waiting for.
    case unexpectedAttachment
    /// A placeholder naming an attachment that does not exist.
    case badPlaceholder
    case tooManyAttachments
}

extension SocketPacket {
    /// Event names the protocol keeps for itself: a client may not emit them.
    static let reservedEvents: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// Parses a packet's text. For the binary types the result still has placeholders and says
    /// how many attachments follow.
    static func decode(_ text: String, maxAttachments: Int) throws(SocketPacketError) -> (SocketPacket, attachments: Int) {
        var rest = Substring(text)
        guard let first = rest.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "6"),
            let kind = Kind(rawValue: first - UInt8(ascii: "0"))
        else { throw .unknownType }
        rest = rest.dropFirst()
        var attachments = 0
        if kind == .binaryEvent || kind == .binaryAck {
            guard let dash = rest.firstIndex(of: "-"), let count = Int(rest[..<dash]), count >= 0,
                rest[..<dash].allSatisfy(\.isASCII)
            else { throw .badAttachmentCount }
            guard count <= maxAttachments else { throw .tooManyAttachments }
            attachments = count
            rest = rest[rest.index(after: dash)...]
        }
        var namespace = "/"
        if rest.first == "/" {
            let end = rest.firstIndex(of: ",") ?? rest.endIndex
            namespace = String(rest[..<end])
            rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]
        }
        var id: Int?
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        if !digits.isEmpty {
            guard digits.count <= 15, let value = Int(digits) else { throw .badAckID }
            id = value
            rest = rest.dropFirst(digits.count)
        }
        var data: JSONValue?
        if !rest.isEmpty {
            guard let parsed = JSONValue(parsing: rest) else { throw .badPayload }
            data = parsed
        }
        let packet = SocketPacket(kind, namespace: namespace, id: id, data: data)
        guard packet.hasValidPayload else { throw .badPayload }
        return (packet, attachments)
    }

    /// The payload rules of the spec, per type.
    var hasValidPayload: Bool {
        switch kind {
        case .connect: return data == nil || data!.isObject
        case .disconnect: return data == nil
        case .connectError: return data?.isObject == true || data?.stringValue != nil
        case .event, .binaryEvent:
            guard let items = data?.arrayValue, let first = items.first else { return false }
            if let name = first.stringValue { return !Self.reservedEvents.contains(name) }
            return first.doubleValue != nil
        case .ack, .binaryAck:
            return data?.arrayValue != nil
        }
    }

    /// Puts the attachments where their placeholders are; only the binary types have them, in
    /// any other packet a placeholder-shaped object is plain JSON.
    func reconstructed(with attachments: [ByteBuffer]) throws(SocketPacketError) -> SocketPacket {
        guard kind == .binaryEvent || kind == .binaryAck else { return self }
        var packet = self
        packet.data = try data.map { value throws(SocketPacketError) in try Self.fill(value, attachments) }
        packet.kind = kind == .binaryEvent ? .event : kind == .binaryAck ? .ack : kind
        return packet
    }

    private static func fill(_ value: JSONValue, _ attachments: [ByteBuffer]) throws(SocketPacketError) -> JSONValue {
        switch value {
        case .array(let items):
            var filled: [JSONValue] = []
            filled.reserveCapacity(items.count)
            for item in items { filled.append(try fill(item, attachments)) }
            return .array(filled)
        case .object(let members):
            if members.count == 2, value["_placeholder"] == .bool(true), let num = value["num"] {
                guard let index = num.int64Value, index >= 0, index < attachments.count else { throw .badPlaceholder }
                return .binary(attachments[Int(index)])
            }
            var filled: [(key: String, value: JSONValue)] = []
            for member in members { filled.append((member.key, try fill(member.value, attachments))) }
            return .object(filled)
        default:
            return value
        }
    }
}
