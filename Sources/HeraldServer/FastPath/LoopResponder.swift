import CoreMetrics
import HTTPTypes
import HeraldCore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Runs the router for a request whose body is already read, on the event loop that read it, and
/// hands back the whole response. It is the router Hummingbird runs, with every middleware: the
/// answer, errors included, is the router's own. What it leaves out is Hummingbird's way there: a
/// task per connection, the async sequences of request and response parts, and the hop to a thread
/// of the pool and back, which cost a lone publish more than its SQLite commit.
///
/// Only for routes whose answer is small and whole (a publish, a message): the response is
/// collected before it is written, so a route that streams must not come here. And only for small
/// bodies: what the route does runs on the loop, every other connection of the loop waiting for
/// it, SQLite's commit included when the writer is idle (`GroupCommit`). A message, or a publish
/// to one user or channel, is a few hundred microseconds of that; a larger body (a publish to more
/// than a few hundred users, say) goes to the router and the pool's threads.
struct LoopResponder: Sendable {
    /// The requests answered here: `POST` to these paths.
    static let paths: Set<String> = ["/api/publish", "/api/messages"]

    let responder: RouterResponder<HeraldRequestContext>
    let logger: Logger
    let date: HTTPDate
    /// The most a body answered here may be; a longer one goes to the router.
    let maxBody: Int
    /// `maxBody`, unless the configured limit is lower: a message of the longest allowed (1,000
    /// characters) fits.
    static let maxBodyOnLoop = 4096
    /// Requests answered here, in the node's own registry.
    let answered: CoreMetrics.Counter

    init(responder: RouterResponder<HeraldRequestContext>, herald: Herald, logger: Logger, date: HTTPDate) {
        self.responder = responder
        self.logger = logger
        self.date = date
        maxBody = min(herald.configuration.maxRequestBody, Self.maxBodyOnLoop)
        answered = CoreMetrics.Counter(label: "herald_requests_answered_on_event_loop_total", factory: herald.metrics.factory)
    }

    /// Whether `request` is one this answers, once its body is read.
    func answers(_ request: HTTPRequest) -> Bool {
        guard request.method == .post, let target = request.path, APIFastPath.isPlain(request, allowingBody: true) else {
            return false
        }
        if let declared = request.headerFields[.contentLength], (Int(declared) ?? .max) > maxBody { return false }
        let path = target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]
        return Self.paths.contains(String(path))
    }

    /// The router's response to `head` with `body`, whole.
    func respond(to head: HTTPRequest, body: ByteBuffer, channel: any NIOCore.Channel) async -> (head: HTTPResponse, body: ByteBuffer) {
        let request = Request(head: head, body: RequestBody(buffer: body))
        // The body is whole in memory: there is no parse error of it left to come.
        guard let response = try? await responder.answer(request, channel: channel, serverName: Herald.serverName, date: date, logger: logger)
        else { return Self.failed(date: date) }
        let collected = CollectedBody(into: channel.allocator.buffer(capacity: response.body.contentLength ?? 0))
        do {
            try await response.body.write(collected.writer)
        } catch {
            logger.error("a response could not be collected", metadata: ["error": "\(error)"])
            return Self.failed(date: date)
        }
        var responseHead = response.head
        let bytes = collected.bytes
        responseHead.headerFields[.contentLength] = String(bytes.readableBytes)
        answered.increment()
        return (responseHead, bytes)
    }

    /// A 500 without a body.
    private static func failed(date: HTTPDate) -> (head: HTTPResponse, body: ByteBuffer) {
        let head = HTTPResponse(
            status: .internalServerError, headerFields: [.contentLength: "0", .date: date.now, .server: Herald.serverName])
        return (head, ByteBuffer())
    }
}

/// A response body written into memory.
private struct CollectedBody {
    private final class Storage: @unchecked Sendable {
        var buffer: ByteBuffer
        init(_ buffer: ByteBuffer) { self.buffer = buffer }
    }

    private struct Writer: ResponseBodyWriter {
        let storage: Storage
        mutating func write(_ buffer: ByteBuffer) async throws { storage.buffer.writeImmutableBuffer(buffer) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    private let storage: Storage

    init(into buffer: ByteBuffer) {
        storage = Storage(buffer)
    }

    var writer: some ResponseBodyWriter { Writer(storage: storage) }
    var bytes: ByteBuffer { storage.buffer }
}
