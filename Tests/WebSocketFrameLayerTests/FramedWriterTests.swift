import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import WebSocketFrameLayer

/// Frames built ahead of time read back, through NIO's own decoder, as the frames they stand for,
/// and go out in order with the frames NIO's encoder writes.
@Suite struct FramedWriterTests {
    /// NIO's decoder, as a client's: what a framed buffer says on the wire.
    static func decoded(_ bytes: ByteBuffer) throws -> [WebSocketFrame] {
        let client = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        try client.writeInbound(bytes)
        var frames: [WebSocketFrame] = []
        while let frame = try client.readInbound(as: WebSocketFrame.self) { frames.append(frame) }
        _ = try client.finish()
        return frames
    }

    @Test(arguments: [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
    func aTextFrameOfEveryLengthClassReadsBack(length: Int) throws {
        let payload = ByteBuffer(bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 % 94 + 33) })
        let frames = try Self.decoded(WebSocketFraming.text(payload))
        #expect(frames.count == 1)
        #expect(frames.first?.fin == true && frames.first?.opcode == .text && frames.first?.maskKey == nil)
        #expect(frames.first?.data == payload)
    }

    @Test func aSharedBufferIsCopiedAndLeftAlone() throws {
        var shared = ByteBufferAllocator().buffer(capacity: 64)
        shared.moveWriterIndex(forwardBy: WebSocketFraming.maxHeaderLength)
        shared.moveReaderIndex(forwardBy: WebSocketFraming.maxHeaderLength)
        shared.writeString("shared by many readers")
        let framed = WebSocketFraming.text(shared)
        #expect(shared.readerIndex == WebSocketFraming.maxHeaderLength)
        #expect(String(buffer: shared) == "shared by many readers")
        #expect(try Self.decoded(framed).first?.data == ByteBuffer(string: "shared by many readers"))
    }

    @Test func framedWritesKeepTheirPlaceAmongTheEncodersFrames() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
        var writer = FramedWriter(channel: channel)
        channel.write(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "one")), promise: nil)
        writer.write(WebSocketFraming.text(ByteBuffer(string: "two")))
        channel.write(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(string: "three")), promise: nil)
        writer.write(WebSocketFraming.text(ByteBuffer(string: "four")))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)  // nothing leaves before the flush
        writer.flush()
        var wire = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { wire.writeBuffer(&part) }
        let frames = try Self.decoded(wire)
        #expect(frames.map { String(buffer: $0.data) } == ["one", "two", "three", "four"])
        #expect(frames.map(\.opcode) == [.text, .text, .binary, .text])
        _ = try channel.finish()
    }

    /// Frames written in place until a flush share one buffer, keep their place among prebuilt
    /// frames and the encoder's own, and read back whatever their length class, including when
    /// the length guessed for the header was in another class than the payload turned out.
    @Test func framesWrittenInPlaceShareOneBufferAndKeepTheirOrder() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
        var writer = FramedWriter(channel: channel)
        func payload(_ length: Int, _ seed: Int) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: ($0 + seed) % 94 + 33) } }
        func inPlace(_ bytes: [UInt8], maxLength: Int) {
            writer.writeText(maxLength: maxLength) { memory in
                memory.copyBytes(from: bytes)
                return bytes.count
            }
        }
        let sizes = [(0, 0), (5, 5), (100, 130), (125, 70_000), (126, 126), (300, 300), (65_535, 65_536), (70_000, 70_000)]
        inPlace(payload(3, 1), maxLength: 3)
        writer.write(WebSocketFraming.text(ByteBuffer(string: "prebuilt")))
        for (length, maxLength) in sizes { inPlace(payload(length, length), maxLength: maxLength) }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)  // nothing leaves before the flush
        writer.flush()
        channel.write(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(string: "encoder's")), promise: nil)
        inPlace(payload(7, 7), maxLength: 10)
        writer.flush()
        var buffers: [ByteBuffer] = []
        while let part = try channel.readOutbound(as: ByteBuffer.self) { buffers.append(part) }
        // The first frame, the prebuilt one, the run written in place (one buffer up to the
        // frame that took it past the hand-over size, then the last, longest frame alone); then
        // the encoder's frame (header and payload), and the last one.
        #expect(buffers.count == 7)
        var wire = ByteBuffer()
        for var part in buffers { wire.writeBuffer(&part) }
        let frames = try Self.decoded(wire)
        let expected = [payload(3, 1), Array("prebuilt".utf8)] + sizes.map { payload($0.0, $0.0) } + [Array("encoder's".utf8), payload(7, 7)]
        #expect(frames.map { Array($0.data.readableBytesView) } == expected)
        #expect(frames.map(\.opcode) == Array(repeating: .text, count: 2 + sizes.count) + [.binary, .text])
        _ = try channel.finish()
    }

    @Test func withoutNIOsEncoderAFrameWrittenInPlaceIsAFrameValue() throws {
        let channel = EmbeddedChannel()
        var writer = FramedWriter(channel: channel)
        writer.writeText(maxLength: 16) { memory in
            memory.copyBytes(from: "in place".utf8)
            return 8
        }
        writer.flush()
        let frame = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(frame.opcode == .text && frame.fin && String(buffer: frame.data) == "in place")
        _ = try channel.finish()
    }

    /// NIO unlinks a closed connection's handlers; a subscriber that has not heard of the close
    /// yet may still write through the context it kept, and that must not trap.
    @Test func aWriteAfterTheConnectionClosedDoesNotTrap() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
        var writer = FramedWriter(channel: channel)
        writer.write(WebSocketFraming.text(ByteBuffer(string: "before")))
        channel.flush()
        let wire = try #require(try channel.readOutbound(as: ByteBuffer.self))
        try channel.close().wait()
        writer.write(WebSocketFraming.text(ByteBuffer(string: "after")))
        writer.release()
        writer.write(WebSocketFraming.text(ByteBuffer(string: "after release")))
        channel.flush()
        #expect(try Self.decoded(wire).map { String(buffer: $0.data) } == ["before"])
    }

    @Test func withoutNIOsEncoderTheFrameIsWrittenAsAFrameValue() throws {
        let channel = EmbeddedChannel()
        var writer = FramedWriter(channel: channel)
        writer.write(WebSocketFraming.text(ByteBuffer(string: "plain")))
        channel.flush()
        let frame = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(frame.opcode == .text && frame.fin && String(buffer: frame.data) == "plain")
        _ = try channel.finish()
    }

    @Test(arguments: [[UInt8](), [0x81], [0x81, 0x85, 1, 2, 3, 4, 5], [0x81, 126, 0], [0x81, 127, 0, 0]])
    func whatIsNotAWholeUnmaskedFrameIsNotReadBack(bytes: [UInt8]) {
        #expect(WebSocketFraming.unframed(ByteBuffer(bytes: bytes)) == nil)
    }
}
