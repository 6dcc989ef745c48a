import HTTPTypes
import HeraldCore
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// Answers the API's hottest requests on the connection's event loop instead of through
/// Hummingbird's per-connection task: polls that memory answers (`MemoryPolls`, without the
/// router), and publishes and messages (`LoopResponder`, the router itself, run on the loop). Both
/// save the task, the async sequences of request and response parts, and a hop to a thread of the
/// pool and back; the polls save the middleware too.
///
/// Guarantees:
/// - The answers are the router's: the same bodies, headers, errors, log lines and request metrics.
/// - Anything else goes to the router untouched: other paths and methods, a poll memory cannot
///   answer, a request that expects a `100 Continue`, asks to upgrade or to close the connection,
///   or has a body larger than `LoopResponder.maxBody`.
/// - Responses leave in request order: while a request handed to the router is unanswered, the
///   requests after it go to the router too; while one is answered here, the requests after it
///   wait, and once one has arrived, so does reading from the socket. So do the end of the input
///   and a parse error: the router learns of them after that answer, as it would have.
/// - A client that does not read its answers is not answered faster than it reads: once the
///   connection stops being writable, its requests go to the router, whose reading waits for its
///   writing.
/// - Hummingbird's connection state handler sees every request and response (this handler sits
///   after it), so its idle timeout and graceful shutdown treat requests answered here as traffic.
///
/// Middleware added to the router does not run for the polls answered from memory: a rule it adds
/// for that path (a limit, say) must be added there too, or must make that path hand such polls on.
final class APIFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What every connection's fast path uses.
    struct Shared: Sendable {
        /// Nil on several nodes, where memory does not hold every stream.
        let polls: MemoryPolls?
        let writes: LoopResponder

        init(herald: Herald, responder: RouterResponder<HeraldRequestContext>, date: HTTPDate, logger: Logger) {
            polls = MemoryPolls(herald: herald, logger: logger, date: date)
            writes = LoopResponder(responder: responder, herald: herald, logger: logger, date: date)
        }
    }

    /// Where the request being read stands.
    private enum Reading {
        /// Passing parts on to the router, or between requests.
        case routed
        /// A poll answered from memory: its answer is written when its end arrives.
        case poll(MemoryPolls.Answer)
        /// A write whose body is being read, to answer on the loop at its end.
        case write(HTTPRequest)
    }

    private let shared: Shared
    private var reading = Reading.routed
    /// The body of the write being read; kept apart from `reading` so appending does not copy it.
    private var body = ByteBuffer()
    /// Requests handed to the router whose response has not ended yet. A response's `.end` comes
    /// from the router's thread and can trail the bytes a client reads it by: a request sent in that
    /// moment goes to the router too, which costs it time, not order.
    private var routed = 0
    /// What arrived while a write was answered on the loop, in order: request parts, and the end
    /// of the input or a parse error, which would otherwise tell the router the connection is done
    /// before that write's answer is out.
    private enum Held {
        case part(HTTPRequestPart)
        case event(Any)
        case error(any Error)
    }

    /// A write is being answered on the loop: what is read meanwhile waits in `held`, and once
    /// something does, reading from the socket waits too (`readWanted`).
    private var answering = false
    private var held = CircularBuffer<Held>()
    private var readWanted = false
    /// The connection's last `Authorization` header and its token's digest (see `MemoryPolls`).
    private var lastDigest: (authorization: String, digest: String)?
    private var executor: EventLoopTaskExecutor?

    init(_ shared: Shared) {
        self.shared = shared
    }

    /// Neither asks for an interim response, a protocol switch, nor the connection's end.
    static func isPlain(_ request: HTTPRequest, allowingBody: Bool = false) -> Bool {
        let fields = request.headerFields
        guard fields[.connection]?.lowercased() != "close", fields[.upgrade] == nil, fields[.expect] == nil else { return false }
        return allowingBody || (fields[.transferEncoding] == nil && fields[.contentLength].map { $0 == "0" } ?? true)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if answering {
            held.append(.part(part))
        } else {
            handle(part, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if answering || !held.isEmpty {
            held.append(.event(event))
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if answering || !held.isEmpty {
            held.append(.error(error))
        } else {
            context.fireErrorCaught(error)
        }
    }

    func read(context: ChannelHandlerContext) {
        // Only a client that sends more while it waits is made to wait: stopping every read
        // while a write is answered would cost two `epoll_ctl` calls per write.
        if answering, !held.isEmpty {
            readWanted = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            // Only Hummingbird writes through here, and each of its responses ends once; a
            // response to no routed request (a parse error's 400) finds nothing to count down.
            routed = max(routed - 1, 0)
        }
        context.write(data, promise: promise)
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (part, reading) {
        case (.head(let request), _):
            let channel = context.channel
            if routed == 0, channel.isWritable, channel.isActive {
                if let answer = shared.polls?.answer(request, lastDigest: &lastDigest, allocator: channel.allocator) {
                    reading = .poll(answer)
                    return
                }
                if shared.writes.answers(request) {
                    reading = .write(request)
                    body.clear()
                    return
                }
            }
            reading = .routed
            routed += 1
            context.fireChannelRead(wrapInboundOut(part))
        case (.body(let chunk), .write(let request)):
            guard body.readableBytes + chunk.readableBytes <= shared.writes.maxBody else {
                return handOn(request, then: part, context: context)
            }
            body.writeImmutableBuffer(chunk)
        case (.body, .poll):
            // A poll declares no body (`isPlain`); bytes that come anyway are dropped.
            break
        case (.end, .poll(let answer)):
            reading = .routed
            context.write(wrapOutboundOut(.head(answer.head)), promise: nil)
            context.write(wrapOutboundOut(.body(answer.body)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            shared.polls?.record(answer)
        case (.end, .write(let request)):
            reading = .routed
            answer(request, context: context)
        case (.body, .routed), (.end, .routed):
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    /// Gives the router a write this path began to read, and `part`, the one that made it give up.
    private func handOn(_ request: HTTPRequest, then part: HTTPRequestPart, context: ChannelHandlerContext) {
        reading = .routed
        routed += 1
        context.fireChannelRead(wrapInboundOut(.head(request)))
        if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
        body = ByteBuffer()
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// Runs the router for the write just read, on this loop, and writes its answer.
    private func answer(_ request: HTTPRequest, context: ChannelHandlerContext) {
        answering = true
        let collected = body
        body = ByteBuffer()
        let loop = context.eventLoop
        let executor = self.executor ?? EventLoopTaskExecutor(loop)
        self.executor = executor
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let channel = context.channel
        let writes = shared.writes
        Task(executorPreference: executor) {
            let response = await writes.respond(to: request, body: collected, channel: channel)
            // The task ends on the loop unless its last await came back elsewhere.
            if loop.inEventLoop {
                bound.value.handler.answered(response, context: bound.value.context)
            } else {
                loop.execute { bound.value.handler.answered(response, context: bound.value.context) }
            }
        }
    }

    /// Writes a write's answer, then reads on: the parts that arrived meanwhile, then the socket.
    private func answered(_ response: (head: HTTPResponse, body: ByteBuffer), context: ChannelHandlerContext) {
        answering = false
        context.write(wrapOutboundOut(.head(response.head)), promise: nil)
        if response.body.readableBytes > 0 { context.write(wrapOutboundOut(.body(response.body)), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        let replayed = !held.isEmpty
        while !answering, let next = held.popFirst() {
            switch next {
            case .part(let part): handle(part, context: context)
            case .event(let event): context.fireUserInboundEventTriggered(event)
            case .error(let error): context.fireErrorCaught(error)
            }
        }
        // Hummingbird takes what it was handed when a read completes.
        if replayed { context.fireChannelReadComplete() }
        if !answering, readWanted {
            readWanted = false
            context.read()
        }
    }
}

/// Puts an `APIFastPath` right after Hummingbird's connection state handler. Hummingbird adds its
/// extra handlers before that one, and the state handler must see the fast path's requests and
/// responses, so this stand-in takes the extra handler's place and, once the pipeline is complete
/// (its first request is read), moves the fast path to where it belongs and leaves.
///
/// Known gap: behind a failed WebSocket upgrade, Hummingbird owes an answer to a request this
/// handler never saw; a request pipelined behind it could be answered first. Clients do not
/// pipeline behind an upgrade request, which waits for its 101.
final class APIFastPathInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var shared: APIFastPath.Shared?
    private let logger: Logger

    init(_ shared: APIFastPath.Shared, logger: Logger) {
        self.shared = shared
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let shared else { return context.fireChannelRead(data) }
        self.shared = nil
        let pipeline = context.pipeline.syncOperations
        do {
            let state = try pipeline.context(handlerType: HTTPConnectionStateHandler.self)
            try pipeline.addHandler(APIFastPath(shared), position: .after(state.handler))
        } catch {
            logger.warning("no request is answered on the event loop on this connection: \(error)")
        }
        context.fireChannelRead(data)
        pipeline.removeHandler(context: context, promise: nil)
    }
}
