import Foundation
import HeraldCore
import Hummingbird

/// `POST /api/channels {name, visibility, members}`: lets a backend (server API key) open a channel
/// before publishing to it, members-only if it wants, and add members.
struct ChannelsAPI {
    let herald: Herald

    struct Request: Decodable {
        var name: String
        var visibility: Channel.Visibility?
        var members: [String]?
    }

    struct ChannelJSON: Encodable {
        var name: String
        var visibility: Channel.Visibility
        var members_added: Int
    }

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.post("/api/channels") { request, context in
            guard context.isServerKey else {
                throw context.credential == nil
                    ? HeraldError.unauthorized() : HeraldError.forbidden("Opening channels needs a server API key.")
            }
            let input = try await JSONBody.decode(Request.self, from: request, limit: herald.configuration.maxRequestBody)
            if let problem = Channel.problem(withName: input.name) {
                throw HeraldError.unprocessable(problem, code: "invalid_channel")
            }
            var memberIDs: [Int64] = []
            for name in input.members ?? [] {
                guard let user = try await herald.store.user(named: name) else {
                    throw HeraldError.notFound("There is no user called \(name).", code: "unknown_user")
                }
                memberIDs.append(user.id)
            }
            let channel = try await herald.store.ensureChannel(
                named: input.name, visibility: input.visibility ?? .public, at: Date())
            try await herald.store.addMembers(memberIDs, to: channel.name)
            return try JSONResponse.encode(
                ChannelJSON(name: channel.name, visibility: channel.visibility, members_added: memberIDs.count),
                status: .created)
        }
    }
}
