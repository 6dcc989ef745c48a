import NIOCore

/// What a held connection has queued for its next flush, written in place into one buffer of its
/// own: messages that differ per connection (a Socket.IO offset, an SSE reader's composite id)
/// cost a copy into that buffer instead of a buffer each, and five events before a flush leave
/// as one buffer in the `writev`, not five. Used by `FramedWriter` and by SSE connections.
///
/// Between flushes it holds no buffer, so an idle connection pays nothing for it.
public struct PendingBytes {
    private var buffer: ByteBuffer?
    /// How large the last buffer grew (up to `largestFirstGuess`): the next one starts that large,
    /// so a connection that usually gets a few events per flush rarely grows one.
    private var lastSize = 0
    private static let largestFirstGuess = 4096

    public init() {}

    public var isEmpty: Bool { buffer == nil }

    /// Appends what `write` writes at the start of the memory it is given (at least `maxLength`
    /// bytes), returning how many bytes it wrote.
    public mutating func append(maxLength: Int, allocator: ByteBufferAllocator, _ write: (UnsafeMutableRawBufferPointer) -> Int) {
        var bytes = buffer ?? allocator.buffer(capacity: max(lastSize, maxLength))
        buffer = nil  // held once while it is written to, or the write would copy it
        bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: maxLength, write)
        buffer = bytes
    }

    /// Appends `bytes` (an event encoded once for every reader).
    public mutating func append(_ bytes: ByteBuffer, allocator: ByteBufferAllocator) {
        append(maxLength: bytes.readableBytes, allocator: allocator) { memory in
            bytes.withUnsafeReadableBytes { memory.copyMemory(from: $0) }
            return bytes.readableBytes
        }
    }

    /// The bytes queued since the last call, if any; the queue is then empty.
    public mutating func take() -> ByteBuffer? {
        guard let bytes = buffer else { return nil }
        buffer = nil
        lastSize = min(bytes.readableBytes, Self.largestFirstGuess)
        return bytes
    }

    public mutating func removeAll() {
        buffer = nil
    }
}
