import HeraldCore

/// Who may read and post to a channel, the same for every transport.
struct ChannelAccess: Sendable {
    let store: any HeraldStore

    /// The channel `name` if `user` may read it: public channels are open to every signed-in user,
    /// members-only channels to their members.
    func readable(_ name: String, by user: User) async throws -> Channel {
        if let problem = Channel.problem(withName: name) {
            throw HeraldError.badRequest(problem, code: "invalid_channel")
        }
        guard let channel = try await store.channel(named: name) else {
            throw HeraldError.notFound("There is no channel called \(name).", code: "unknown_channel")
        }
        if channel.visibility == .members, !(try await store.isMember(userID: user.id, of: name)) {
            throw HeraldError.forbidden("Only members may read the channel \(name).")
        }
        return channel
    }
}
