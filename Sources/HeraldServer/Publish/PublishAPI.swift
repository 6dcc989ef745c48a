import Foundation
import HeraldCore
import Hummingbird
import NIOFoundationCompat

/// `POST /api/publish {user | users | channel, name, data, mode}`: how other backends notify users
/// and channels. Persists, then delivers, and answers the assigned seq(s).
///
/// A server API key may publish anywhere (a channel it names is created, public, if new). A user's
/// own token or session may publish only to that user, and to channels the user may read.
struct PublishAPI {
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.post("/api/publish", use: publish)
    }

    @Sendable func publish(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        guard context.credential != nil else { throw HeraldError.unauthorized() }
        let body = try await request.body.collect(upTo: herald.configuration.maxRequestBody)
        let publication = try Publication(parsing: Data(buffer: body))
        let store = herald.store
        let now = Date()

        switch publication.target {
        case .users(let names, let single):
            var users: [User] = []
            for name in names {
                guard let user = try await store.user(named: name) else {
                    throw HeraldError.notFound("There is no user called \(name).", code: "unknown_user")
                }
                if !context.isServerKey, user.id != context.identity?.id {
                    throw HeraldError.forbidden("A user's token can publish only to that user.")
                }
                users.append(user)
            }
            let written = try await store.addNotification(
                to: users.map(\.stream), name: publication.name, json: publication.json, mode: publication.mode, at: now)
            await herald.bus.publish(zip(users, written).map { StreamEvent(stream: $0.stream, notification: $1) })
            if single { return try JSONResponse.encode(["seq": written[0].seq], status: .created) }
            let seqs = Dictionary(zip(users.map(\.username), written.map(\.seq)), uniquingKeysWith: { a, _ in a })
            return try JSONResponse.encode(["seqs": seqs], status: .created)

        case .channel(let name):
            let channel: Channel
            if context.isServerKey {
                channel = try await store.ensureChannel(named: name, visibility: .public, at: now)
            } else {
                channel = try await ChannelAccess(store: store).readable(name, by: try context.requireUser())
            }
            let written = try await store.addNotification(
                to: channel.stream, name: publication.name, json: publication.json, mode: publication.mode, at: now)
            await herald.bus.publish([StreamEvent(stream: channel.stream, notification: written)])
            return try JSONResponse.encode(["seq": written.seq], status: .created)
        }
    }
}
