import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Publishes over one keep-alive HTTP/1.1 connection, one request at a time, at a given rate.
public struct BenchPublisher: Sendable {
    let target: BenchTarget

    public init(target: BenchTarget) {
        self.target = target
    }

    /// Sends `count` publishes, `rate` per second (0 = as fast as answers come back); returns the
    /// time of the first send in wall nanoseconds.
    public func run(count: Int, rate: Double) async throws -> UInt64 {
        let endpoint = try Endpoint(target.publishURL)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        var firstSend: UInt64 = 0
        try await channel.executeThenClose { inbound, outbound in
            var responses = inbound.makeAsyncIterator()
            let clock = ContinuousClock()
            let start = clock.now
            for index in 0..<count {
                if rate > 0 { try await clock.sleep(until: start + .seconds(Double(index) / rate)) }
                let now = wallNanoseconds()
                if firstSend == 0 { firstSend = now }
                let body = ByteBuffer(string: target.publishBody.replacingOccurrences(of: "$TIME", with: String(now)))
                var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.target)
                head.headers.add(name: "Host", value: "\(endpoint.host):\(endpoint.port)")
                head.headers.add(name: "Content-Length", value: String(body.readableBytes))
                if !target.publishHeaders.contains(where: { $0.lowercased().hasPrefix("content-type:") }) {
                    head.headers.add(name: "Content-Type", value: "application/json")
                }
                for header in target.publishHeaders {
                    let parts = header.split(separator: ":", maxSplits: 1)
                    if parts.count == 2 { head.headers.add(name: String(parts[0]), value: parts[1].trimmingCharacters(in: .whitespaces)) }
                }
                try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(body)), .end(nil)])
                var status: HTTPResponseStatus?
                while let part = try await responses.next() {
                    if case .head(let response) = part { status = response.status }
                    if case .end = part { break }
                }
                guard let status, (200..<300).contains(status.code) else {
                    throw BenchError("publish refused: \(status.map { "\($0.code)" } ?? "no answer")")
                }
            }
        }
        return firstSend
    }
}
