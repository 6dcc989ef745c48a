import HeraldCore
import Hummingbird

/// The streams a `/ws` client names in its upgrade's URL, to be subscribed with no command and no
/// round trip: `GET /ws?stream=user&stream=channel:lobby&since=17;lobby=5`.
///
/// Guarantees:
/// - Each `stream` is subscribed right after the upgrade, in the URL's order, exactly as a
///   `subscribe` command with a null `id` sent as the first frame would be: its ack, history and
///   live events follow. On Herald's own frame layer the 101 waits for the first subscription and
///   leaves in its write. Commands the client sends meanwhile run after these subscriptions.
/// - `since` is the cursor SSE resumes from (its `Last-Event-ID`): the user stream's seq, then
///   `;channel=seq` pairs. A stream it does not name is subscribed without a cursor.
/// - Everything that can be checked is checked before the upgrade is answered: a bad stream name
///   or cursor, more streams than a connection may read, no credentials on the upgrade itself
///   (header or cookie; the `auth` command comes too late), or a channel the user may not read
///   refuses the upgrade with Herald's JSON error instead of a 101. On Hummingbird's path
///   (`WebSocketEndpoint`), which answers a refused upgrade with a bare 400, the upgrade is made
///   and the refusal is an error frame and a close (1008).
struct WebSocketOpening: Sendable {
    let streams: [StreamName]
    let cursors: StreamCursors

    /// Nil when the URL names no stream.
    static func requested(in query: Parameters, user: User?, grant: ConnectionGrant?, herald: Herald) async throws -> WebSocketOpening? {
        let labels = query.getAll("stream")
        guard !labels.isEmpty else {
            guard query["since"] == nil else {
                throw HeraldError.badRequest("since says where the URL's streams resume: name them with stream=.", code: "invalid_cursor")
            }
            return nil
        }
        guard let user else {
            throw HeraldError.unauthorized("Streams named in the URL need credentials on the upgrade: a bearer token or the session cookie.")
        }
        var streams: [StreamName] = []
        for label in labels {
            let stream = try WebSocketSession.stream(String(label), for: user)
            if !streams.contains(stream) { streams.append(stream) }
        }
        try herald.limits.checkStreams(streams.count)
        let cursors = try EventStreams.cursors(query["since"].map { String($0) })
        let access = ChannelAccess(store: herald.store)
        for case .channel(let name) in streams { _ = try await access.readable(name, by: user, grant: grant) }
        return WebSocketOpening(streams: streams, cursors: cursors)
    }
}
