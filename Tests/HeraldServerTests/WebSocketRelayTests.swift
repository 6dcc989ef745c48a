import NIOCore
import NIOEmbedded
import Testing

@testable import HeraldServer

/// Counts the reads a channel asks its socket for.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// The joint between a relayed client and its session's node: bytes cross both ways, a side that
/// cannot write holds the other's reading back, and one side closing closes the other.
@Suite struct WebSocketRelayTests {
    @Test func bytesCrossAndAFullSideHoldsTheOtherBack() throws {
        let client = EmbeddedChannel()
        let upstream = EmbeddedChannel()
        let counter = ReadCounter()
        try client.pipeline.syncOperations.addHandler(counter)
        let (clientSide, upstreamSide) = WebSocketRelay.Joint.pair()
        try client.pipeline.syncOperations.addHandler(clientSide)
        try upstream.pipeline.syncOperations.addHandler(upstreamSide)

        try client.writeInbound(ByteBuffer(string: "to the node"))
        #expect(try upstream.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "to the node"))
        try upstream.writeInbound(ByteBuffer(string: "to the client"))
        #expect(try client.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "to the client"))

        let before = counter.reads
        client.read()
        #expect(counter.reads == before + 1)
        upstream.isWritable = false
        client.read()
        #expect(counter.reads == before + 1)  // held back while the node's side is full
        upstream.isWritable = true
        upstream.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == before + 2)

        try upstream.close().wait()
        #expect(!client.isActive)
    }
}
