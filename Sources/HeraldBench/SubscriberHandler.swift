import NIOCore

/// One subscriber connection. It sends the request, checks the response status, and then reads
/// the stream as raw bytes, finding each delivery by its `"t":<nanoseconds>` marker. Parsing no
/// more than that keeps the client cheap enough to measure a server doing a million deliveries a
/// second, and lets the same code read any server's SSE or WebSocket framing. On SSE it also keeps
/// the last `id:` it read, the cursor a reconnect resumes from (`Last-Event-ID`).
final class SubscriberHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let marker = Array(#""t":"#.utf8)
    private static let idField = Array("\nid: ".utf8)
    /// An unmasked text frame holding Engine.IO's ping, `2`; answered with a masked `3`.
    private static let enginePing: [UInt8] = [0x81, 0x01, 0x32]
    private static let enginePong = SubscriberPool.maskedTextFrame("3")

    private let request: ByteBuffer
    private let afterUpgrade: ByteBuffer?
    private let answersEnginePings: Bool
    private let readsEventIDs: Bool
    private var idMatched = 0
    private var readingID: [UInt8]?
    private var pingMatched = 0
    private let ready: EventLoopPromise<Void>
    private var head: [UInt8] = []
    private var streaming = false
    private var matched = 0
    private var number: UInt64?

    /// Publish→receive latencies in microseconds, read on the channel's event loop at the end.
    private(set) var latencies: [UInt64] = []
    private(set) var firstReceive: UInt64 = 0
    private(set) var lastReceive: UInt64 = 0
    /// Deliveries whose send time was not after the one before: each publish is sent after the
    /// one before it, so such a delivery is one received twice (or out of order).
    private(set) var repeated = 0
    private var lastSentAt: UInt64 = 0
    /// The last SSE event id read.
    private(set) var lastEventID: String?

    init(
        request: ByteBuffer, afterUpgrade: ByteBuffer?, answersEnginePings: Bool, readsEventIDs: Bool,
        ready: EventLoopPromise<Void>
    ) {
        self.request = request
        self.afterUpgrade = afterUpgrade
        self.answersEnginePings = answersEnginePings
        self.readsEventIDs = readsEventIDs
        self.ready = ready
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { bytes in
            var start = 0
            if !streaming {
                head.append(contentsOf: bytes)
                guard let end = headEnd() else { return }
                let status = String(decoding: head.prefix(12), as: UTF8.self)
                guard status.hasSuffix(" 200") || status.hasSuffix(" 101") else {
                    ready.fail(BenchError("subscribe refused: \(String(decoding: head.prefix(80), as: UTF8.self))"))
                    context.close(promise: nil)
                    return
                }
                streaming = true
                if let afterUpgrade { context.writeAndFlush(wrapOutboundOut(afterUpgrade), promise: nil) }
                ready.succeed()
                start = bytes.count - (head.count - end)
                head = []
            }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            scan(rest)
            if readsEventIDs { scanIDs(rest) }
            if answersEnginePings, countPings(rest) > 0 {
                context.writeAndFlush(wrapOutboundOut(Self.enginePong), promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ready.fail(BenchError("connection closed before the stream started"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ready.fail(error)
        context.close(promise: nil)
    }

    private func headEnd() -> Int? {
        guard head.count >= 4 else { return nil }
        for i in 3..<head.count where head[i] == 10 && head[i - 1] == 13 && head[i - 2] == 10 && head[i - 3] == 13 {
            return i + 1
        }
        return nil
    }

    /// A small state machine over the bytes, so a marker or number split across reads still counts.
    private func scan(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if var value = number {
                if byte >= 48 && byte <= 57 {
                    value = value &* 10 &+ UInt64(byte - 48)
                    number = value
                    continue
                }
                record(value)
                number = nil
            }
            if byte == Self.marker[matched] {
                matched += 1
                if matched == Self.marker.count {
                    matched = 0
                    number = 0
                }
            } else {
                matched = byte == Self.marker[0] ? 1 : 0
            }
        }
    }

    /// `id: VALUE` lines, the last of which is kept (split across reads or not).
    private func scanIDs(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if readingID != nil {
                if byte == 10 || byte == 13 {
                    lastEventID = String(decoding: readingID!, as: UTF8.self)
                    readingID = nil
                } else {
                    readingID!.append(byte)
                    continue
                }
            }
            if byte == Self.idField[idMatched] {
                idMatched += 1
                if idMatched == Self.idField.count {
                    idMatched = 0
                    readingID = []
                }
            } else {
                idMatched = byte == Self.idField[0] ? 1 : 0
            }
        }
    }

    /// Engine.IO pings in the bytes (a frame split across reads still counts). The server closes
    /// a session that leaves one unanswered, so a long run must answer them.
    private func countPings(_ bytes: UnsafeRawBufferPointer) -> Int {
        var found = 0
        for byte in bytes {
            if byte == Self.enginePing[pingMatched] {
                pingMatched += 1
                if pingMatched == Self.enginePing.count {
                    pingMatched = 0
                    found += 1
                }
            } else {
                pingMatched = byte == Self.enginePing[0] ? 1 : 0
            }
        }
        return found
    }

    private func record(_ sentAt: UInt64) {
        if sentAt <= lastSentAt { repeated += 1 }
        lastSentAt = max(lastSentAt, sentAt)
        let now = wallNanoseconds()
        if firstReceive == 0 { firstReceive = now }
        lastReceive = now
        latencies.append(now > sentAt ? (now - sentAt) / 1000 : 0)
    }
}
