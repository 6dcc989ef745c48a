import NIOCore

/// What a held connection has queued for its next flush, written in place into one buffer of its
/// own: messages that differ per connection (a Socket.IO offset, an SSE reader's composite id)
/// cost a copy into that buffer instead of a buffer each, and five events before a flush leave
/// as one buffer in the `writev`, not five. Used by `FramedWriter` and by SSE connections.
///
/// Between flushes it holds no buffer, so an idle connection pays nothing for it. What it holds
/// is not yet in the socket's queue, so the channel's write watermark does not count it: past
/// `handOverSize` the owner hands it over without waiting for the flush (`takeIfLarge`), so a
/// long replay or a long write delay still meets the watermark.
public struct PendingBytes {
    private var buffer: ByteBuffer?
    /// How large the last buffer grew (up to `largestFirstGuess`): the next one starts that large,
    /// so a connection that usually gets a few events per flush rarely grows one.
    private var lastSize = 0
    private static let largestFirstGuess = 4096
    public static let handOverSize = 64 * 1024

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
        append(maxLength: bytes.readableBytes, allocator: allocator, bytes.copyReadableBytes)
    }

    /// The bytes queued since the last call, if any; the queue is then empty.
    public mutating func take() -> ByteBuffer? {
        guard let bytes = buffer else { return nil }
        buffer = nil
        lastSize = min(bytes.readableBytes, Self.largestFirstGuess)
        return bytes
    }

    /// `take()`, once what is held reaches `handOverSize`.
    public mutating func takeIfLarge() -> ByteBuffer? {
        guard let bytes = buffer, bytes.readableBytes >= Self.handOverSize else { return nil }
        return take()
    }

    public mutating func removeAll() {
        buffer = nil
    }
}
