import Foundation
import HeraldCore
import Hummingbird
import Mustache

/// Server-rendered pages: each page's template rendered into the shared layout (navbar with the
/// unread badge, flash notice). Templates are compiled into the binary, so Herald is one file to deploy.
struct PageRenderer: Sendable {
    private let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, bytes) in EmbeddedFiles.templates {
            try library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        self.library = library
    }

    /// Renders `template` with `values` inside the layout. Pages see the layout's values too
    /// (`currentUser`, `unreadCount`, `csrfToken`).
    func render(
        _ template: String, title: String, values: [String: Any] = [:], status: HTTPResponse.Status = .ok,
        request: Request, context: HeraldRequestContext, store: any HeraldStore
    ) async throws -> Response {
        var layout: [String: Any] = ["title": title, "csrfToken": context.csrfToken]
        if let user = context.identity {
            let unread = try await store.unreadMessageCount(userID: user.id)
            layout["currentUser"] = user.username
            layout["unreadCount"] = unread
            layout["hasUnread"] = unread > 0
            // Where herald.js starts following the user's stream: what the page already shows.
            layout["streamCursor"] = try await store.lastSeq(of: user.stream)
            layout["one"] = unread == 1
        }
        let flash = Flash.message(in: request)
        layout["flash"] = flash
        layout["content"] = library.render(layout.merging(values) { $1 }, withTemplate: template) ?? ""
        let html = library.render(layout, withTemplate: "layout") ?? ""
        var response = Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
        if flash != nil { response.setCookie(Flash.cleared) }
        return response
    }

    func errorPage(
        _ error: HeraldError, request: Request, context: HeraldRequestContext, store: any HeraldStore
    ) async throws -> Response {
        let heading = "\(error.status.code) \(error.status.reasonPhrase)"
        return try await render(
            "error", title: heading, values: ["heading": heading, "message": error.message], status: error.status,
            request: request, context: context, store: store)
    }
}

extension Herald {
    func page(
        _ template: String, title: String, values: [String: Any] = [:], status: HTTPResponse.Status = .ok,
        request: Request, context: HeraldRequestContext
    ) async throws -> Response {
        try await pages.render(
            template, title: title, values: values, status: status, request: request, context: context, store: store)
    }
}
