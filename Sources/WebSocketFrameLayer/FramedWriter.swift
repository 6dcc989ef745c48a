import NIOCore
import NIOWebSocket

/// Frames built ahead of time. A server's frame is unmasked, so an event going to many readers is
/// the same bytes on every connection: it is framed once (`WebSocketFraming.text`) and each
/// connection queues those bytes as they are, through its `FramedWriter`.
public enum WebSocketFraming {
    /// The longest header of an unmasked frame (RFC 6455 5.2).
    public static let maxHeaderLength = 10

    /// `payload` as one text frame, in a buffer of its own.
    public static func text(_ payload: ByteBuffer) -> ByteBuffer {
        ByteBuffer.written(maxLength: maxHeaderLength + payload.readableBytes, allocator: ByteBufferAllocator()) { bytes in
            writeText(into: bytes, maxLength: payload.readableBytes, payload.copyReadableBytes)
        }
    }

    /// The frame `text` built, read back: for a pipeline without NIO's frame encoder to write it
    /// through (nil if it is not a whole unmasked frame).
    static func unframed(_ framed: ByteBuffer) -> WebSocketFrame? {
        guard let first = framed.getInteger(at: framed.readerIndex, as: UInt8.self),
            let second = framed.getInteger(at: framed.readerIndex + 1, as: UInt8.self), second & 0x80 == 0
        else { return nil }
        let headerLength = second == 127 ? 10 : second == 126 ? 4 : 2
        guard framed.readableBytes >= headerLength, let opcode = WebSocketOpcode(encodedWebSocketOpcode: first & 0x0F),
            let payload = framed.getSlice(at: framed.readerIndex + headerLength, length: framed.readableBytes - headerLength)
        else { return nil }
        return WebSocketFrame(fin: first & 0x80 != 0, opcode: opcode, data: payload)
    }

    /// A text frame written at the start of `bytes`: the payload goes after the header its
    /// `maxLength` needs, and moves closer if it turns out shorter. Returns the frame's length.
    static func writeText(into bytes: UnsafeMutableRawBufferPointer, maxLength: Int,
        _ writePayload: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        let reserved = headerLength(for: maxLength)
        let length = writePayload(UnsafeMutableRawBufferPointer(rebasing: bytes[reserved...]))
        precondition(length <= maxLength, "a payload longer than its maxLength")
        let header = headerLength(for: length)
        if header != reserved {
            UnsafeMutableRawPointer(bytes.baseAddress! + header).copyMemory(from: bytes.baseAddress! + reserved, byteCount: length)
        }
        bytes[0] = 0x81  // FIN, text
        if length < 126 {
            bytes[1] = UInt8(length)
        } else if length <= Int(UInt16.max) {
            bytes[1] = 126
            bytes.storeBytes(of: UInt16(length).bigEndian, toByteOffset: 2, as: UInt16.self)
        } else {
            bytes[1] = 127
            bytes.storeBytes(of: UInt64(length).bigEndian, toByteOffset: 2, as: UInt64.self)
        }
        return header + length
    }

    static func headerLength(for length: Int) -> Int {
        length < 126 ? 2 : length <= Int(UInt16.max) ? 4 : 10
    }
}

/// Queues frames on one connection below NIO's frame encoder, straight onto the socket's queue,
/// in order with everything else written on the loop. Use it on the channel's event loop only.
/// Frames written in place join the socket's queue at the next `write`, `writePending` or
/// `flush`: write anything else that must follow them after one of those.
///
/// Two kinds of frame go through it:
/// - frames built ahead of time by `WebSocketFraming` (`write`), the same bytes for every reader:
///   each is one buffer in the `writev`, with no frame value, header buffer or handler call of its
///   own;
/// - text frames written in place (`writeText`), for messages that differ per connection: every
///   such frame until the next flush goes into one buffer of the connection's, so a connection
///   that gets five events before its flush costs one buffer and one `writev` entry, not five.
public struct FramedWriter {
    private let channel: any Channel
    /// The frame encoder's context: what it writes goes to the socket. Found on first use.
    private var encoder: ChannelHandlerContext?
    /// Frames written in place since the last flush.
    private var pending = PendingBytes()

    public init(channel: any Channel) {
        self.channel = channel
    }

    public mutating func write(_ frame: ByteBuffer, promise: EventLoopPromise<Void>? = nil) {
        findEncoder()
        writePending()
        if let encoder {
            // A context whose handler has gone (the connection closed) fails the write.
            encoder.write(NIOAny(frame), promise: promise)
        } else if let unframed = WebSocketFraming.unframed(frame) {
            channel.write(unframed, promise: promise)
        } else {
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    /// Queues a text frame whose payload `writePayload` writes at the start of the bytes it is
    /// given (at least `maxLength` of them), returning how many it wrote. The whole frame is
    /// built in one pass over raw memory: a message that differs per connection costs a copy
    /// and no buffer of its own.
    public mutating func writeText(maxLength: Int, _ writePayload: (UnsafeMutableRawBufferPointer) -> Int) {
        findEncoder()
        guard encoder != nil else {
            let payload = ByteBuffer.written(maxLength: maxLength, allocator: channel.allocator, writePayload)
            return channel.write(WebSocketFrame(fin: true, opcode: .text, data: payload), promise: nil)
        }
        pending.append(maxLength: maxLength + WebSocketFraming.maxHeaderLength, allocator: channel.allocator) { bytes in
            WebSocketFraming.writeText(into: bytes, maxLength: maxLength, writePayload)
        }
        if let large = pending.takeIfLarge() { encoder?.write(NIOAny(large), promise: nil) }
    }

    /// Hands the frames written in place to the socket's queue, behind what is queued there, without
    /// flushing. Call it before writing to the channel by other means (a close frame) to keep order.
    public mutating func writePending() {
        guard let buffer = pending.take() else { return }
        encoder?.write(NIOAny(buffer), promise: nil)
    }

    /// Sends what is queued: the channel's flush, started at the encoder, since nothing above it
    /// holds writes back.
    public mutating func flush() {
        findEncoder()
        writePending()
        if let encoder { encoder.flush() } else { channel.flush() }
    }

    private mutating func findEncoder() {
        if encoder == nil {
            encoder = try? channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        }
    }

    /// Lets go of the pipeline once the connection has closed.
    public mutating func release() {
        encoder = nil
        pending.removeAll()
    }
}
