import Foundation
import HeraldCore

/// Sending and reading private messages, shared by the web pages and the JSON API so both follow
/// the same rules and both notify the same way: persist first, then publish.
struct Messaging: Sendable {
    enum Refusal: Error, Equatable {
        case unknownRecipient
        case toSelf
        case invalidBody(MessageBody.Problem)

        var explanation: String {
            switch self {
            case .unknownRecipient: "There is no user with that name."
            case .toSelf: "You cannot send a message to yourself."
            case .invalidBody(let problem): problem.explanation
            }
        }
    }

    let herald: Herald

    func send(from sender: User, to recipientName: String, body rawBody: String) async throws -> Message {
        guard let recipient = try await herald.store.user(named: recipientName) else {
            throw Refusal.unknownRecipient
        }
        guard recipient.id != sender.id else { throw Refusal.toSelf }
        let body: String
        switch MessageBody.validated(rawBody, maxLength: herald.configuration.messageMaxLength) {
        case .success(let valid): body = valid
        case .failure(let problem): throw Refusal.invalidBody(problem)
        }
        let (message, notification) = try await herald.metrics.write("message") {
            try await herald.store.sendMessage(from: sender.id, to: recipient.id, body: body, at: Date())
        }
        await herald.bus.publish([StreamEvent(stream: recipient.stream, notification: notification)])
        return message
    }

    /// Marks the inbox read and tells the user's other tabs and devices that the count is now 0.
    func markRead(_ user: User) async throws -> StreamNotification {
        let notification = try await herald.store.markMessagesRead(userID: user.id, at: Date())
        await herald.bus.publish([StreamEvent(stream: user.stream, notification: notification)])
        return notification
    }
}
