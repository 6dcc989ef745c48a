import Foundation
import HeraldCore
import Hummingbird
import SocketIO

/// The messaging feature for scripts: send, read the inbox, mark it read.
struct MessagesAPI {
    let herald: Herald
    var messaging: Messaging { Messaging(herald: herald) }

    struct SendRequest: Decodable {
        var to: String
        var body: String

        /// The usual body: an object with each field once, both strings.
        static func quick(_ value: JSONValue) -> SendRequest? {
            guard case .object(let members) = value else { return nil }
            var to: String?, body: String?
            for (key, value) in members {
                switch key {
                case "to":
                    guard to == nil, let text = value.stringValue else { return nil }
                    to = text
                case "body":
                    guard body == nil, let text = value.stringValue else { return nil }
                    body = text
                default: break
                }
            }
            guard let to, let body else { return nil }
            return SendRequest(to: to, body: body)
        }
    }

    struct ReadJSON: Encodable {
        var unread_message_count: Int
        var seq: Int64
    }

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.post("/api/messages", use: send)
        router.get("/api/messages", use: inbox)
        router.post("/api/messages/read") { _, context in
            let user = try context.requireUser()
            let notification = try await messaging.markRead(user)
            return try JSONResponse.encode(ReadJSON(unread_message_count: 0, seq: notification.seq))
        }
    }

    @Sendable func send(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let sender = try context.requireUser()
        let input = try await JSONBody.decode(
            SendRequest.self, from: request, limit: herald.configuration.maxRequestBody, quick: SendRequest.quick)
        do {
            let message = try await messaging.send(from: sender, to: input.to, body: input.body)
            return JSONResponse.message(message, status: .created)
        } catch let refusal as Messaging.Refusal {
            switch refusal {
            case .unknownRecipient:
                throw HeraldError.notFound("There is no user called \(input.to).", code: "unknown_user")
            case .toSelf:
                throw HeraldError.unprocessable(refusal.explanation, code: "recipient_is_sender")
            case .invalidBody(.empty):
                throw HeraldError.unprocessable(refusal.explanation, code: "body_empty")
            case .invalidBody(.tooLong):
                throw HeraldError.unprocessable(refusal.explanation, code: "body_too_long")
            }
        }
    }

    @Sendable func inbox(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let page = try Paging.page(of: request)
        let inbox = try await herald.store.inbox(userID: user.id, page: page, perPage: herald.configuration.messagesPerPage)
        let unread = try await herald.store.unreadMessageCount(userID: user.id)
        return JSONResponse.inbox(inbox, unreadMessageCount: unread)
    }
}
