import Foundation
import HeraldCore

/// Who may read and post to a channel, the same for every transport.
struct ChannelAccess: Sendable {
    let store: any HeraldStore

    /// The channel `name` if `user` may read it: public channels are open to every signed-in user,
    /// members-only channels to their members. A channel nobody has published to yet is an empty
    /// public channel at seq 0: a reader may wait on it before its first event.
    /// With a connection token's grant, members-only channels are readable only if its `channels`
    /// claim lists them (public ones always are).
    func readable(_ name: String, by user: User, grant: ConnectionGrant? = nil) async throws -> Channel {
        if let problem = Channel.problem(withName: name) {
            throw HeraldError.badRequest(problem, code: "invalid_channel")
        }
        guard let channel = try await store.channel(named: name) else {
            return Channel(name: name, visibility: .public, createdAt: Date())
        }
        if channel.visibility == .members, let grant {
            guard grant.channels.contains(name) else { throw HeraldError.channelNotGranted(name) }
            return channel
        }
        if channel.visibility == .members, !(try await store.isMember(userID: user.id, of: name)) {
            throw HeraldError.forbidden("Only members may read the channel \(name).")
        }
        return channel
    }

    /// The channel `name` if `user` may post to it (whoever may read it), made if it was new.
    func postable(_ name: String, by user: User) async throws -> Channel {
        let channel = try await readable(name, by: user)
        return try await store.ensureChannel(named: channel.name, visibility: channel.visibility, at: Date())
    }
}
