import Foundation
import HeraldCore
import Hummingbird

/// Chat rooms: public channels whose lines are `message` events. A posted line is persisted, then
/// pushed to every open browser on the room (through herald.js and `/api/events?channel=`).
struct RoomController {
    static let historyLength = 50
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/rooms") { request, context in
            _ = try context.requireUser()
            return try await list(request: request, context: context)
        }
        router.post("/rooms", use: create)
        router.get("/rooms/{name}", use: show)
        router.post("/rooms/{name}", use: post)
    }

    private func list(
        error: String? = nil, name: String = "", status: HTTPResponse.Status = .ok, request: Request,
        context: HeraldRequestContext
    ) async throws -> Response {
        let rooms = try await herald.store.channels(limit: 500).filter { $0.visibility == .public }
        var values: [String: Any] = ["rooms": rooms.map { ["name": $0.name] }, "name": name]
        values["error"] = error
        return try await herald.page("rooms", title: "Rooms", values: values, status: status, request: request, context: context)
    }

    @Sendable func create(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        _ = try context.requireUser()
        let form = try await FormData.read(request, context: context, limit: herald.configuration.maxRequestBody)
        let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
        if let problem = Channel.problem(withName: name) {
            return try await list(error: problem, name: name, status: .unprocessableContent, request: request, context: context)
        }
        let room = try await herald.store.ensureChannel(named: name, visibility: .public, at: Date())
        guard room.visibility == .public else {
            return try await list(
                error: "That name is taken by a private channel.", name: name, status: .unprocessableContent,
                request: request, context: context)
        }
        return Response.redirect(to: "/rooms/\(room.name)")
    }

    @Sendable func show(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let room = try await ChannelAccess(store: herald.store).readable(try context.parameters.require("name"), by: user)
        return try await page(room, request: request, context: context)
    }

    @Sendable func post(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let room = try await ChannelAccess(store: herald.store).postable(try context.parameters.require("name"), by: user)
        let form = try await FormData.read(request, context: context, limit: herald.configuration.maxRequestBody)
        // herald.js posts with Accept: application/json and wants JSON back; a plain form wants a page.
        let wantsJSON = request.headers[.accept]?.contains("application/json") == true
        let text: String
        switch MessageBody.validated(form["text"] ?? "", maxLength: herald.configuration.messageMaxLength) {
        case .success(let valid): text = valid
        case .failure(let problem):
            if wantsJSON {
                throw HeraldError.unprocessable(problem.explanation, code: "invalid_text")
            }
            return try await page(
                room, text: form["text"] ?? "", error: problem.explanation, status: .unprocessableContent,
                request: request, context: context)
        }
        let written = try await RoomLine.post(text, by: user, in: room, herald: herald)
        if wantsJSON {
            return JSONResponse.seq(written.seq, status: .created)
        }
        return Response.redirect(to: "/rooms/\(room.name)")
    }

    private func page(
        _ room: Channel, text: String = "", error: String? = nil, status: HTTPResponse.Status = .ok,
        request: Request, context: HeraldRequestContext
    ) async throws -> Response {
        let (events, lastSeq) = try await herald.store.recentEvents(in: room.stream, limit: Self.historyLength)
        let lines = events.reversed().compactMap { event -> [String: Any]? in
            guard event.name == RoomLine.eventName,
                let line = try? JSONDecoder().decode(RoomLine.self, from: Data(event.json.utf8))
            else { return nil }
            let sent = Date(timeIntervalSince1970: line.sentAt)
            return ["from": line.from, "text": line.text, "iso": DisplayDate.iso(sent), "when": DisplayDate.human(sent)]
        }
        var values: [String: Any] = [
            "room": room.name, "lines": lines, "text": text, "roomCursor": lastSeq,
            "maxLength": herald.configuration.messageMaxLength,
        ]
        values["error"] = error
        return try await herald.page(
            "room", title: "#\(room.name)", values: values, status: status, request: request, context: context)
    }
}

/// One line of a chat room, as stored and as pushed.
struct RoomLine: Codable {
    var channel: String
    var from: String
    var text: String
    var sentAt: Double

    enum CodingKeys: String, CodingKey {
        case channel, from, text
        case sentAt = "sent_at"
    }

    /// The event name of a line in its channel's stream.
    static let eventName = "message"

    /// Writes a line (already validated) to the room's stream and hands it to the bus. Shared by
    /// the room's form and Socket.IO's `text` event.
    static func post(_ text: String, by user: User, in room: Channel, herald: Herald) async throws -> StreamNotification {
        let now = Date()
        let line = RoomLine(channel: room.name, from: user.username, text: text, sentAt: now.timeIntervalSince1970)
        let json = String(decoding: try JSONResponse.encoder.encode(line), as: UTF8.self)
        let written = try await herald.store.addNotification(
            to: room.stream, name: eventName, json: json, mode: .append, at: now)
        await herald.bus.publish([StreamEvent(stream: room.stream, notification: written)])
        return written
    }
}
