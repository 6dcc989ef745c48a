import NIOCore

/// One RESP2 reply: what a Redis server sends back, and what pub/sub pushes.
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// `nil` is the null bulk string (`$-1`).
    case bulkString(ByteBuffer?)
    /// `nil` is the null array (`*-1`).
    case array([RESPValue]?)

    /// The text of a simple or bulk string, if it is one and is UTF-8.
    public var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let bytes?): return bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes)
        default: return nil
        }
    }
}

/// Commands go to the server as arrays of bulk strings, which is the only form a server must accept.
public enum RESPCommand {
    public static func encode(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            buffer.writeString("$\(argument.utf8.count)\r\n")
            buffer.writeString(argument)
            buffer.writeString("\r\n")
        }
    }

    public static func encode(_ arguments: [String], allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: arguments.reduce(16) { $0 + $1.utf8.count + 16 })
        encode(arguments, into: &buffer)
        return buffer
    }
}
