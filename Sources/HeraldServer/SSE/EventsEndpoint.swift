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
struct EventsEndpoint {
    static let retryMilliseconds = 2000
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/api/events", use: events)
    }

    @Sendable func events(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let access = ChannelAccess(store: herald.store)
        var requested = [user.stream]
        for name in request.uri.queryParameters.getAll("channel") where !requested.contains(.channel(String(name))) {
            requested.append(try await access.readable(String(name), by: user).stream)
        }
        let streams = requested
        let cursors = try Self.cursors(request)

        // Subscribe first, then read the history: whatever is published in between is held by the
        // subscriber and written after the history, minus what the history already had.
        let subscriber = SSESubscriber(channel: context.channel, streams: streams)
        let hub = herald.hub
        hub.subscribe(subscriber, to: streams)
        // However the response ends (even before its body starts), the hub lets go of it.
        context.channel.closeFuture.whenComplete { _ in hub.unsubscribeAll(subscriber) }
        let replays: [(StreamName, StreamReplay)]
        let start: StreamCursors
        do {
            (replays, start) = try await replay(streams, cursors: cursors)
        } catch {
            hub.unsubscribe(subscriber, from: streams)
            throw error
        }

        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-cache",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: .init { writer in
                defer { hub.unsubscribeAll(subscriber) }
                // Through Hummingbird's writer, so the response head is on its way before the hub
                // writes to the channel directly.
                try await writer.write(ByteBuffer(string: "retry: \(Self.retryMilliseconds)\n\n"))
                try? await context.channel.pipeline.addHandler(InboundCloseHandler(), position: .first).get()
                subscriber.start(with: replays, from: start)
                try? await withGracefulShutdownHandler {
                    try await subscriber.finished.get()
                } onGracefulShutdown: {
                    subscriber.end()
                }
                if context.channel.isActive { try await writer.finish(nil) }
            })
    }

    /// Reads each stream's history after its cursor, refusing cursors from the future. Returns the
    /// histories and the cursors to start from: a channel joined without a cursor starts at its
    /// current seq (live, with its states), so the ids written afterwards resume it from there.
    private func replay(_ streams: [StreamName], cursors requested: StreamCursors) async throws
        -> (replays: [(StreamName, StreamReplay)], cursors: StreamCursors)
    {
        var replays: [(StreamName, StreamReplay)] = []
        var cursors = requested
        for stream in streams {
            let cursor = requested.seq(of: stream)
            var replay = try await herald.store.replay(stream, after: cursor ?? 0)
            if let cursor, cursor > replay.lastSeq {
                throw HeraldError.cursorAhead(cursor, of: stream, lastSeq: replay.lastSeq)
            }
            if cursor == nil {
                replay.evictedThrough = 0  // a reader with no cursor has missed nothing
                if case .channel = stream {
                    replay.notifications = replay.notifications.filter { $0.mode == .replace }
                    cursors.set(replay.lastSeq, for: stream)
                }
            }
            replays.append((stream, replay))
        }
        return (replays, cursors)
    }

    static func cursors(_ request: Request) throws -> StreamCursors {
        let raw =
            request.headers[HTTPField.Name("Last-Event-ID")!]
            ?? request.uri.queryParameters["since"].map(String.init)
            ?? request.uri.queryParameters["last_event_id"].map(String.init)
        guard let raw else { return StreamCursors() }
        guard let cursors = StreamCursors(parsing: raw) else {
            throw HeraldError.badRequest(
                "The cursor must be a seq (a whole number from 0), optionally followed by ;channel=seq pairs.",
                code: "invalid_cursor")
        }
        return cursors
    }
}
