import HeraldCore
import Hummingbird
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `GET /api/notifications?since=<seq or timestamp>&wait=<seconds>`: the user's notifications after
/// the cursor, in seq order. With `wait`, a long-poll: held until something newer exists, then
/// answered at once; `[]` at the deadline.
struct NotificationsAPI {
    static let pageLimit = 500
    static let path = "/api/notifications"
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get(RouterPath(Self.path), use: notifications)
    }

    @Sendable func notifications(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let query = request.uri.queryParameters
        let cursor = try Self.cursor(parsing: query["since"])
        let wait = try Self.wait(parsing: query["wait"], max: herald.configuration.maxWait)
        let stream = user.stream
        let store = herald.store

        let found = try await store.notifications(in: stream, after: cursor, limit: Self.pageLimit)
        if !found.isEmpty { return JSONResponse.notifications(found) }

        let lastSeq = try await store.lastSeq(of: stream)
        let after: Int64
        switch cursor {
        case .seq(let seq):
            guard seq <= lastSeq else { throw HeraldError.cursorAhead(seq, of: stream, lastSeq: lastSeq) }
            after = seq
        case .timestamp:
            after = lastSeq
        }
        guard wait > 0 else { return JSONResponse.notifications([]) }

        // Register before looking again, so a notification written in between still wakes us.
        let waiters = herald.hub.pollWaiters
        let ticket = waiters.register(on: stream, after: after)
        let recheck = try await store.notifications(in: stream, after: cursor, limit: Self.pageLimit)
        if !recheck.isEmpty {
            waiters.cancel(ticket)
            return JSONResponse.notifications(recheck)
        }
        // On shutdown the wait ends early with [], so the server can drain at once and the
        // client simply polls again (elsewhere).
        herald.metrics.opened(.longPoll)
        defer { herald.metrics.closed(.longPoll) }
        let woken = await withGracefulShutdownHandler {
            await waiters.wait(ticket, timeout: .nanoseconds(Int64(wait * 1e9)), on: MultiThreadedEventLoopGroup.singleton.any())
        } onGracefulShutdown: {
            waiters.cancel(ticket)
        }
        guard woken else { return JSONResponse.notifications([]) }
        return JSONResponse.notifications(
            try await store.notifications(in: stream, after: cursor, limit: Self.pageLimit))
    }

    static func cursor(parsing raw: Substring?) throws -> Cursor {
        guard let raw else { return .beginning }
        guard let cursor = Cursor(parsing: raw) else {
            throw HeraldError.badRequest(
                "since must be a seq (a whole number from 0) or a unix timestamp.", code: "invalid_cursor")
        }
        return cursor
    }

    static func wait(parsing raw: Substring?, max: Double) throws -> Double {
        guard let raw else { return 0 }
        guard let seconds = Double(raw), seconds.isFinite, seconds >= 0, seconds <= max else {
            throw HeraldError.badRequest("wait must be a number of seconds from 0 to \(Int(max)).", code: "invalid_wait")
        }
        return seconds
    }

    /// What this endpoint answers at once for `stream`, when memory alone has the answer: the
    /// notifications after a seq cursor, or `[]` for a poll that does not wait and is not ahead of
    /// the stream. Nil whenever answering needs the store, a wait or an error; the handler above
    /// answers those.
    static func answerFromMemory(in stream: StreamName, after cursor: Cursor, wait: Double, recent: RecentEvents)
        -> [StreamNotification]?
    {
        guard case .seq(let seq) = cursor, let found = recent.notifications(in: stream, after: seq, limit: pageLimit)
        else { return nil }
        if !found.isEmpty { return found }
        guard wait == 0, let lastSeq = recent.lastSeq(of: stream), seq <= lastSeq else { return nil }
        return []
    }
}
