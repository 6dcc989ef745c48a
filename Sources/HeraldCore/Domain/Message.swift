import Foundation

/// A private message from one user to another.
public struct Message: Sendable, Equatable {
    public var id: Int64
    public var sender: String
    public var recipient: String
    public var body: String
    public var createdAt: Date

    public init(id: Int64, sender: String, recipient: String, body: String, createdAt: Date) {
        self.id = id
        self.sender = sender
        self.recipient = recipient
        self.body = body
        self.createdAt = createdAt
    }
}

/// One page of a user's inbox, newest first.
public struct InboxPage: Sendable {
    public var messages: [Message]
    public var page: Int
    public var perPage: Int
    public var total: Int

    public init(messages: [Message], page: Int, perPage: Int, total: Int) {
        self.messages = messages
        self.page = page
        self.perPage = perPage
        self.total = total
    }

    public var pageCount: Int { max(1, (total + perPage - 1) / perPage) }
    public var hasNewer: Bool { page > 1 }
    public var hasOlder: Bool { page < pageCount }
}
