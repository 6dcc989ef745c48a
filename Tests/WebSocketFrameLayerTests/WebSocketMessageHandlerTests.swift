import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import WebSocketFrameLayer

/// What the frame layer tells the layer above besides messages: that the socket's writability
/// changed, and that it is about to close, while frames written in place can still go first.
@Suite struct WebSocketMessageHandlerTests {
    /// Answers every message in place, so the answer waits for the next flush.
    final class InPlaceAnswers: WebSocketMessageReceiver, @unchecked Sendable {
        var writer: FramedWriter?
        var writability: [Bool] = []

        func opened(_ connection: WebSocketConnection) { writer = FramedWriter(channel: connection.channel) }
        func received(_ message: WebSocketMessage, on connection: WebSocketConnection) {
            writer!.writeText(maxLength: 16) { memory in
                memory.copyBytes(from: "answer".utf8)
                return 6
            }
        }
        func writabilityChanged(_ isWritable: Bool) { writability.append(isWritable) }
        func closing() { writer!.writePending() }
        func closed() {}
    }

    static func connection(_ receiver: InPlaceAnswers) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
        try channel.pipeline.syncOperations.addHandler(WebSocketMessageHandler(receiver: receiver, maxMessageSize: 1000))
        return channel
    }

    static func frames(leaving channel: EmbeddedChannel) throws -> [WebSocketFrame] {
        var wire = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { wire.writeBuffer(&part) }
        return try FramedWriterTests.decoded(wire)
    }

    @Test(arguments: [WebSocketOpcode.connectionClose, .continuation, WebSocketOpcode(encodedWebSocketOpcode: 0x3)!])
    func framesWrittenInPlaceLeaveBeforeTheFrameLayersCloseFrame(ending: WebSocketOpcode) throws {
        let receiver = InPlaceAnswers()
        let channel = try Self.connection(receiver)
        try channel.writeInbound(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "question")))
        // A close from the peer, a continuation with no message, an opcode RFC 6455 reserves.
        try channel.writeInbound(WebSocketFrame(fin: true, opcode: ending, data: ByteBuffer()))
        let frames = try Self.frames(leaving: channel)
        #expect(frames.map(\.opcode) == [.text, .connectionClose])
        #expect(frames.first.map { String(buffer: $0.data) } == "answer")
        _ = try? channel.finish()
    }

    @Test func theReceiverHearsWhenTheSocketStopsAndStartsTakingWrites() throws {
        let receiver = InPlaceAnswers()
        let channel = try Self.connection(receiver)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(receiver.writability == [false, true])
        _ = try channel.finish()
    }

    /// Bytes held for the flush are not in the socket's queue, so the watermark cannot see them:
    /// past the hand-over size they are handed over without waiting for it.
    @Test func pendingBytesAreHandedOverOnceLarge() {
        var pending = PendingBytes()
        let allocator = ByteBufferAllocator()
        let chunk = ByteBuffer(repeating: 7, count: 1000)
        var appended = 0
        while appended + chunk.readableBytes < PendingBytes.handOverSize {
            pending.append(chunk, allocator: allocator)
            appended += chunk.readableBytes
            #expect(pending.takeIfLarge() == nil)
        }
        pending.append(chunk, allocator: allocator)
        #expect(pending.takeIfLarge()?.readableBytes == appended + chunk.readableBytes)
        #expect(pending.isEmpty && pending.take() == nil)
    }
}
