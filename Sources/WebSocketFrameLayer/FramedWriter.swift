import NIOCore
import NIOWebSocket

/// Frames built ahead of time. A server's frame is unmasked, so an event going to many readers is
/// the same bytes on every connection: it is framed once (`WebSocketFraming.text`) and each
/// connection queues those bytes as they are, through its `FramedWriter`.
public enum WebSocketFraming {
    /// The longest header of an unmasked frame (RFC 6455 5.2): room to leave before a message
    /// that is to be framed in place.
    public static let maxHeaderLength = 10

    /// `payload` as one text frame: framed in place when the room before its readable bytes holds
    /// the header and no one else holds the bytes, else copied behind a header.
    public static func text(_ payload: consuming ByteBuffer) -> ByteBuffer {
        let length = payload.readableBytes
        let headerLength = headerLength(for: length)
        var framed = payload
        let inPlace: Bool? = framed.modifyIfUniquelyOwned { buffer in
            guard buffer.readerIndex >= headerLength else { return false }
            buffer.moveReaderIndex(to: buffer.readerIndex - headerLength)
            writeTextHeader(for: length, into: &buffer, at: buffer.readerIndex)
            return true
        }
        if inPlace == true { return framed }
        var copy = ByteBufferAllocator().buffer(capacity: headerLength + length)
        copy.moveWriterIndex(forwardBy: headerLength)
        writeTextHeader(for: length, into: &copy, at: 0)
        copy.writeImmutableBuffer(framed)
        return copy
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

    private static func headerLength(for length: Int) -> Int {
        length < 126 ? 2 : length <= Int(UInt16.max) ? 4 : 10
    }

    private static func writeTextHeader(for length: Int, into buffer: inout ByteBuffer, at index: Int) {
        buffer.setInteger(UInt8(0x81), at: index)  // FIN, text
        if length < 126 {
            buffer.setInteger(UInt8(length), at: index + 1)
        } else if length <= Int(UInt16.max) {
            buffer.setInteger(UInt8(126), at: index + 1)
            buffer.setInteger(UInt16(length), at: index + 2)
        } else {
            buffer.setInteger(UInt8(127), at: index + 1)
            buffer.setInteger(UInt64(length), at: index + 2)
        }
    }
}

/// Queues frames built by `WebSocketFraming` on one connection as they are: below NIO's frame
/// encoder, straight onto the socket's queue, in order with everything else written on the loop.
/// A delivery is then one buffer in the `writev`, with no frame value, header buffer or handler
/// call of its own. Use it on the channel's event loop only.
public struct FramedWriter {
    private let channel: any Channel
    /// The frame encoder's context: what it writes goes to the socket. Found on first use.
    private var encoder: ChannelHandlerContext?

    public init(channel: any Channel) {
        self.channel = channel
    }

    public mutating func write(_ frame: ByteBuffer, promise: EventLoopPromise<Void>? = nil) {
        findEncoder()
        if let encoder {
            // A context whose handler has gone (the connection closed) fails the write.
            encoder.write(NIOAny(frame), promise: promise)
        } else if let unframed = WebSocketFraming.unframed(frame) {
            channel.write(unframed, promise: promise)
        } else {
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    /// Sends what is queued: the channel's flush, started at the encoder, since nothing above it
    /// holds writes back.
    public mutating func flush() {
        findEncoder()
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
    }
}
