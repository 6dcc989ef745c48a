import NIOCore

/// Building buffers over raw memory, for messages written in place (`PendingBytes`,
/// `FramedWriter.writeText`) and the paths that fall back to a buffer of their own.
extension ByteBuffer {
    /// A buffer holding what `write` writes at the start of the memory it is given (at least
    /// `maxLength` bytes); `write` returns how many bytes it wrote.
    public static func written(maxLength: Int, allocator: ByteBufferAllocator, _ write: (UnsafeMutableRawBufferPointer) -> Int) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: maxLength)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maxLength, write)
        return buffer
    }

    /// Copies the readable bytes to the start of `memory`; returns how many there were.
    public func copyReadableBytes(to memory: UnsafeMutableRawBufferPointer) -> Int {
        withUnsafeReadableBytes { memory.copyMemory(from: $0) }
        return readableBytes
    }
}
