import Foundation
import HTTPTypes
import HeraldCore
import Hummingbird
import NIOCore
import ServiceLifecycle

/// `GET /api/events`: the user's notifications, and any `?channel=NAME` streams, as Server-Sent Events.
///
/// Resumes from `Last-Event-ID`, or on a first connection from `?since=` / `?last_event_id=`
/// (a `StreamCursors` id). Without a cursor the user stream starts at 0 (current states and
/// retained events) and channels start live.
///
/// This type decides what a request gets. A connection whose first request is the stream is
/// served by `serve(_:on:)`, outside Hummingbird; one that carried other requests first
/// (browsers reuse connections) is served by the route below.
struct EventStreams: Sendable {
    static let retryMilliseconds = 2000
    let herald: Herald

    /// A stream ready to start: subscribed in the hub, its history read.
    struct Opened {
        let subscriber: SSESubscriber
        let replays: [(StreamName, StreamReplay)]
        let cursors: StreamCursors
    }

    /// Checks the request, subscribes the connection, then reads the history: whatever is
    /// published in between is held by the subscriber and written after the history, minus what
    /// the history already had.
    func open(
        for user: User, grant: ConnectionGrant? = nil, channels: [String], cursor: String?, on channel: any NIOCore.Channel,
        framing: SSESubscriber.Framing
    ) async throws -> Opened {
        let access = ChannelAccess(store: herald.store)
        var streams = [user.stream]
        try herald.limits.checkStreams(1 + Set(channels).count)
        for name in channels where !streams.contains(.channel(name)) {
            streams.append(try await access.readable(name, by: user, grant: grant).stream)
        }
        let requested = try Self.cursors(cursor)
        let subscriber = SSESubscriber(channel: channel, streams: streams, framing: framing, metrics: herald.metrics)
        let (hub, metrics) = (herald.hub, herald.metrics)
        hub.subscribe(subscriber, to: streams)
        metrics.opened(.sse)
        // However the connection ends, even before the stream starts, the hub lets go of it.
        channel.closeFuture.whenComplete { _ in
            hub.unsubscribeAll(subscriber)
            metrics.closed(.sse)
        }
        // A connection token's stream ends when the token expires; reconnecting needs a fresh one.
        if let grant { Self.cut(channel, at: grant.expiresAt) }
        do {
            let (replays, cursors) = try await herald.history.read(streams, after: requested)
            return Opened(subscriber: subscriber, replays: replays, cursors: cursors)
        } catch {
            hub.unsubscribeAll(subscriber)
            throw error
        }
    }

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/api/events") { request, context in
            let user = try context.requireUser()
            let query = request.uri.queryParameters
            let cursor = Self.requestedCursor(lastEventID: request.headers[HTTPField.Name("Last-Event-ID")!], query: query)
            let opened = try await open(
                for: user, grant: context.grant, channels: query.getAll("channel").map { String($0) }, cursor: cursor,
                on: context.channel,
                framing: .responseBody)
            let subscriber = opened.subscriber
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/event-stream", .cacheControl: "no-cache",
                    HTTPField.Name("X-Accel-Buffering")!: "no",
                ],
                body: .init { writer in
                    // Through Hummingbird's writer, so the response head is on its way before the
                    // hub writes to the channel directly.
                    try await writer.write(ByteBuffer(string: "retry: \(Self.retryMilliseconds)\n\n"))
                    try? await context.channel.pipeline.addHandler(InboundCloseHandler(), position: .first).get()
                    subscriber.start(with: opened.replays, from: opened.cursors)
                    try? await withGracefulShutdownHandler {
                        try await subscriber.finished.get()
                    } onGracefulShutdown: {
                        subscriber.shutdown()
                    }
                    if context.channel.isActive { try await writer.finish(nil) }
                })
        }
    }

    /// Closes a held connection when its connection token expires (as Centrifugo does).
    static func cut(_ channel: any NIOCore.Channel, at expiry: Date) {
        let delay = max(0, expiry.timeIntervalSinceNow)
        let task = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(delay * 1000))) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in task.cancel() }
    }

    /// The cursor a request resumes from: `Last-Event-ID` (a reconnecting EventSource), else
    /// `?since=` or `?last_event_id=` (a first connection).
    static func requestedCursor(lastEventID: String?, query: Parameters) -> String? {
        lastEventID ?? (query["since"] ?? query["last_event_id"]).map { String($0) }
    }

    static func cursors(_ text: String?) throws -> StreamCursors {
        guard let text else { return StreamCursors() }
        guard let cursors = StreamCursors(parsing: text) else {
            throw HeraldError.badRequest(
                "The cursor must be a seq (a whole number from 0), optionally followed by ;channel=seq pairs.",
                code: "invalid_cursor")
        }
        return cursors
    }
}
