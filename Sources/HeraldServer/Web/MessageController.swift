import HeraldCore
import Hummingbird

/// Sending a private message and reading the inbox.
struct MessageController {
    let herald: Herald
    var messaging: Messaging { Messaging(herald: herald) }

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/send_message/{recipient}") { request, context in
            _ = try context.requireUser()
            let recipient = try await existingRecipient(context)
            return try await form(recipient: recipient, request: request, context: context)
        }
        router.post("/send_message/{recipient}", use: send)
        router.get("/messages", use: inbox)
    }

    @Sendable func send(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let sender = try context.requireUser()
        let form = try await FormData.read(request, context: context, limit: herald.configuration.maxRequestBody)
        let recipient = try await existingRecipient(context)
        let body = form["message"] ?? ""
        do {
            _ = try await messaging.send(from: sender, to: recipient.username, body: body)
        } catch let refusal as Messaging.Refusal {
            guard refusal != .unknownRecipient else { throw HeraldError.notFound(refusal.explanation) }
            return try await self.form(
                recipient: recipient, body: body, error: refusal.explanation, status: .unprocessableContent,
                request: request, context: context)
        }
        return Flash.redirect(to: "/user/\(recipient.username)", saying: "Your message has been sent.")
    }

    /// The inbox. Visiting it marks every message read, on this page and in every other open tab.
    @Sendable func inbox(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let page = try Paging.page(of: request)
        _ = try await messaging.markRead(user)
        let inbox = try await herald.store.inbox(userID: user.id, page: page, perPage: herald.configuration.messagesPerPage)
        var values = Paging.pagerValues(
            path: "/messages", page: page, pageCount: inbox.pageCount,
            newerLabel: "Newer messages", olderLabel: "Older messages")
        values["hasNewer"] = inbox.hasNewer
        values["messages"] = inbox.messages.map { message -> [String: Any] in
            [
                "sender": message.sender, "body": message.body,
                "iso": DisplayDate.iso(message.createdAt), "when": DisplayDate.human(message.createdAt),
            ]
        }
        return try await herald.page("messages", title: "Messages", values: values, request: request, context: context)
    }

    private func existingRecipient(_ context: HeraldRequestContext) async throws -> User {
        let name = try context.parameters.require("recipient")
        guard let recipient = try await herald.store.user(named: name) else {
            throw HeraldError.notFound("There is no user called \(name).", code: "unknown_user")
        }
        return recipient
    }

    private func form(
        recipient: User, body: String = "", error: String? = nil, status: HTTPResponse.Status = .ok,
        request: Request, context: HeraldRequestContext
    ) async throws -> Response {
        var values: [String: Any] = [
            "recipient": recipient.username, "body": body, "maxLength": herald.configuration.messageMaxLength,
        ]
        values["error"] = error
        return try await herald.page(
            "send_message", title: "Send a message", values: values, status: status, request: request, context: context)
    }
}
