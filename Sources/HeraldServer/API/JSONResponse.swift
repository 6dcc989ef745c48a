import Foundation
import HeraldCore
import Hummingbird
import SocketIO

/// JSON bodies for the API. Notifications are written by hand: their `data` is stored as JSON text
/// and copied through untouched, which is both exact and cheaper than decoding and re-encoding it.
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func encode(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        response(try encoder.encode(value), status: status)
    }

    static func error(_ error: HeraldError) -> Response {
        var response = response(Data(errorBody(error).utf8), status: error.status)
        if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    static func errorBody(_ error: HeraldError) -> String {
        #"{"error":{"code":"# + quoted(error.code) + #","message":"# + quoted(error.message) + "}}"
    }

    static func notifications(_ list: [StreamNotification]) -> Response {
        response(Data(notificationsJSON(list).utf8), status: .ok)
    }

    /// The body of `notifications(_:)`, for the polling fast path too.
    static func notificationsJSON(_ list: [StreamNotification]) -> String {
        var text = "["
        for (index, n) in list.enumerated() {
            if index > 0 { text += "," }
            text += #"{"id":\#(n.id),"name":"# + quoted(n.name) + #","data":\#(n.json),"timestamp":\#(n.timestamp),"seq":\#(n.seq)}"#
        }
        text += "]"
        return text
    }

    /// `{"seq":N}`, a publish's answer: written directly, as it is on every publish's path.
    static func seq(_ seq: Int64, status: HTTPResponse.Status) -> Response {
        response(Data(#"{"seq":\#(seq)}"#.utf8), status: status)
    }

    /// A sent message: `{"body","from","id","timestamp","to"}`, keys sorted as `encode` sorts them.
    static func message(_ message: Message, status: HTTPResponse.Status) -> Response {
        response(Data(messageJSON(message).utf8), status: status)
    }

    /// A page of the inbox, its messages written as `message(_:status:)` writes one.
    static func inbox(_ inbox: InboxPage, unreadMessageCount: Int) -> Response {
        let messages = inbox.messages.map(messageJSON).joined(separator: ",")
        let text = #"{"has_newer":\#(inbox.hasNewer),"has_older":\#(inbox.hasOlder),"messages":[\#(messages)],"#
            + #""page":\#(inbox.page),"pages":\#(inbox.pageCount),"per_page":\#(inbox.perPage),"total":\#(inbox.total),"#
            + #""unread_message_count":\#(unreadMessageCount)}"#
        return response(Data(text.utf8), status: .ok)
    }

    private static func messageJSON(_ message: Message) -> String {
        #"{"body":"# + quoted(message.body) + #","from":"# + quoted(message.sender) + #","id":\#(message.id)"#
            + #","timestamp":\#(message.createdAt.timeIntervalSince1970),"to":"# + quoted(message.recipient) + "}"
    }

    private static func response(_ data: Data, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A JSON string literal for `text`, with the escapes RFC 8259 requires.
    static func quoted(_ text: String) -> String {
        JSONValue.quoted(text)
    }
}
