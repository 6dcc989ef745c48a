import Foundation
import HeraldCore

/// Persists a publication and hands it to the bus, after checking that the caller may publish
/// there. Shared by `POST /api/publish` and the WebSocket `publish` command.
///
/// A server API key may publish anywhere (a channel it names is created, public, if new). A user
/// may publish only to their own stream, and to channels they may read.
struct Publisher: Sendable {
    enum Outcome {
        case seq(Int64)
        case seqs([String: Int64])
    }

    let herald: Herald

    /// `publisher` names whose allowance it spends (`limits.publishes-per-second`): by default the user's.
    func publish(_ publication: Publication, by user: User?, isServerKey: Bool, publisher: String? = nil) async throws
        -> Outcome
    {
        // Publishes that come through Redis (no user, no key) are the operator's own backends: not limited.
        if let key = publisher ?? user.map({ "user:\($0.id)" }) {
            do {
                try herald.limits.publishes.take(key)
            } catch {
                throw HeraldError.tooManyRequests(
                    "Too many publishes: at most \(Int(herald.limits.publishes.burst)) a second.", retryAfter: error.retryAfter)
            }
        }
        let store = herald.store
        let now = Date()
        switch publication.target {
        case .users(let names, let single):
            var users: [User] = []
            for name in names {
                guard let target = try await store.user(named: name) else {
                    throw HeraldError.notFound("There is no user called \(name).", code: "unknown_user")
                }
                if !isServerKey, target.id != user?.id {
                    throw HeraldError.forbidden("A user's token can publish only to that user.")
                }
                users.append(target)
            }
            let written = try await herald.metrics.write("publish") {
                try await store.addNotification(
                    to: users.map(\.stream), name: publication.name, json: publication.json, mode: publication.mode, at: now)
            }
            await herald.bus.publish(zip(users, written).map { StreamEvent(stream: $0.stream, notification: $1) })
            if single { return .seq(written[0].seq) }
            return .seqs(Dictionary(zip(users.map(\.username), written.map(\.seq)), uniquingKeysWith: { a, _ in a }))

        case .channel(let name):
            let channel: Channel
            if isServerKey {
                channel = try await store.ensureChannel(named: name, visibility: .public, at: now)
            } else {
                guard let user else { throw HeraldError.unauthorized() }
                channel = try await ChannelAccess(store: store).postable(name, by: user)
            }
            let written = try await herald.metrics.write("publish") {
                try await store.addNotification(
                    to: channel.stream, name: publication.name, json: publication.json, mode: publication.mode, at: now)
            }
            await herald.bus.publish([StreamEvent(stream: channel.stream, notification: written)])
            return .seq(written.seq)
        }
    }
}
