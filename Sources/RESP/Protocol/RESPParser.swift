import NIOCore

/// Why a reply could not be read. Any of these ends the connection: after a malformed reply the
/// stream cannot be resynchronised.
public enum RESPParseError: Error, Equatable, Sendable {
    case unknownType(UInt8)
    case malformedLine
    case badNumber
    case lineTooLong
    case bulkStringTooLong(Int64)
    case arrayTooLong(Int64)
    case nestedTooDeeply
}

/// Reads RESP2 replies from bytes as they arrive, within limits, so that a hostile or broken peer
/// can neither exhaust memory nor the stack.
///
/// `parse` takes one whole reply from the front of the buffer, or nothing when the buffer holds
/// only part of one: it never consumes a partial reply, so the caller appends more bytes and calls
/// again.
public struct RESPParser: Sendable {
    public struct Limits: Sendable {
        /// Longest simple string, error or number line, without its CRLF.
        public var maxLineLength = 64 * 1024
        public var maxBulkStringLength: Int64 = 16 * 1024 * 1024
        public var maxArrayCount: Int64 = 1024 * 1024
        public var maxDepth = 16

        public init() {}
    }

    public var limits: Limits
    private static let types: Set<UInt8> = Set("+-:$*".utf8)

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public func parse(_ buffer: inout ByteBuffer) throws(RESPParseError) -> RESPValue? {
        var cursor = buffer.readerIndex
        guard let value = try parseValue(buffer, at: &cursor, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: cursor)
        return value
    }

    private func parseValue(_ buffer: ByteBuffer, at cursor: inout Int, depth: Int) throws(RESPParseError) -> RESPValue? {
        guard let type = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
        guard Self.types.contains(type) else { throw .unknownType(type) }
        var position = cursor + 1
        guard let line = try readLine(buffer, at: &position) else { return nil }
        let value: RESPValue
        switch type {
        case UInt8(ascii: "+"):
            value = .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            value = .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            value = .integer(try number(line))
        case UInt8(ascii: "$"):
            let length = try number(line)
            if length == -1 {
                value = .bulkString(nil)
                break
            }
            guard length >= 0 else { throw .badNumber }
            guard length <= limits.maxBulkStringLength else { throw .bulkStringTooLong(length) }
            let count = Int(length)
            guard buffer.writerIndex - position >= count + 2 else { return nil }
            guard buffer.getInteger(at: position + count, as: UInt8.self) == UInt8(ascii: "\r"),
                  buffer.getInteger(at: position + count + 1, as: UInt8.self) == UInt8(ascii: "\n")
            else { throw .malformedLine }
            value = .bulkString(buffer.getSlice(at: position, length: count))
            position += count + 2
        case UInt8(ascii: "*"):
            let count = try number(line)
            if count == -1 {
                value = .array(nil)
                break
            }
            guard count >= 0 else { throw .badNumber }
            guard count <= limits.maxArrayCount else { throw .arrayTooLong(count) }
            guard depth < limits.maxDepth else { throw .nestedTooDeeply }
            // Each element takes at least three bytes: refuse to wait for more than can be there.
            var elements: [RESPValue] = []
            elements.reserveCapacity(Int(min(count, Int64(buffer.writerIndex - position) / 3 + 1)))
            for _ in 0..<count {
                guard let element = try parseValue(buffer, at: &position, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            value = .array(elements)
        default:
            throw .unknownType(type)
        }
        cursor = position
        return value
    }

    /// The bytes up to the next CRLF, which must come within the line limit; nil if it has not arrived.
    private func readLine(_ buffer: ByteBuffer, at position: inout Int) throws(RESPParseError) -> ByteBufferView? {
        let available = buffer.writerIndex - position
        let searched = min(available, limits.maxLineLength + 1)
        guard let view = buffer.viewBytes(at: position, length: searched) else { return nil }
        guard let end = view.firstIndex(of: UInt8(ascii: "\r")) else {
            if available > limits.maxLineLength { throw .lineTooLong }
            return nil
        }
        guard end + 1 < buffer.writerIndex else { return nil }
        guard buffer.getInteger(at: end + 1, as: UInt8.self) == UInt8(ascii: "\n") else { throw .malformedLine }
        let line = view[view.startIndex..<end]
        position = end + 2
        return line
    }

    /// A decimal Int64: an optional minus sign, then 1 to 19 digits, nothing else.
    private func number(_ line: ByteBufferView) throws(RESPParseError) -> Int64 {
        var digits = line[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 19 else { throw .badNumber }
        var result: Int64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .badNumber }
            let (shifted, overflowA) = result.multipliedReportingOverflow(by: 10)
            let (added, overflowB) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflowA, !overflowB else { throw .badNumber }
            result = added
        }
        return negative ? -result : result
    }
}
