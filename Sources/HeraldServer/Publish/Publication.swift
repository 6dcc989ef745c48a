import Foundation
import HeraldCore
import SocketIO

/// A validated publish request. `data` is kept compact, so what is stored and served is always one
/// line of valid JSON, whatever whitespace the publisher sent.
struct Publication {
    enum Target {
        case users([String], single: Bool)
        case channel(String)
    }

    static let maxUsers = 1000

    var target: Target
    var name: String
    var json: String
    var mode: StreamNotification.Mode

    /// From a request body. `data` is kept as it was sent, its whitespace dropped: numbers keep
    /// every digit (Foundation would round some), objects their key order. This was a tenth of a
    /// publish's CPU when `data` was parsed into Foundation objects and written out again.
    init(parsing data: Data) throws {
        if let (text, value) = JSONBody.heraldParse(data), case .object(let members) = value {
            var fields: [String: Any] = [:]
            for (key, value) in members where key != "data" { fields[key] = value.foundationValue }
            try self.init(fields, json: JSONValue.compactText(ofMember: "data", in: Substring(text)) ?? "null")
            return
        }
        // Not a JSON object for Herald's parser: Foundation's says what is wrong, or parses it.
        guard let object = try JSONBody.parse(data) as? [String: Any] else {
            throw HeraldError.unprocessable("The body must be a JSON object.", code: "invalid_field")
        }
        try self.init(object)
    }

    /// From an already parsed JSON object (a WebSocket `publish` command); other keys are ignored.
    init(_ object: [String: Any]) throws {
        let value = object["data"] ?? NSNull()
        let encoded = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .withoutEscapingSlashes])
        try self.init(object, json: String(decoding: encoded, as: UTF8.self))
    }

    /// `object`'s fields checked; `json`, the text of its `data`.
    private init(_ object: [String: Any], json: String) throws {
        let targets = ["user", "users", "channel"].filter { object[$0] != nil }
        guard targets.count == 1 else {
            throw HeraldError.unprocessable("Give exactly one of user, users or channel.", code: "invalid_target")
        }
        switch targets[0] {
        case "user":
            target = .users([try Self.string(object, "user")], single: true)
        case "users":
            guard let names = object["users"] as? [String], !names.isEmpty, names.count <= Self.maxUsers else {
                throw HeraldError.unprocessable(
                    "users must be a list of 1 to \(Self.maxUsers) usernames.", code: "invalid_field")
            }
            target = .users(names, single: false)
        default:
            let name = try Self.string(object, "channel")
            if let problem = Channel.problem(withName: name) {
                throw HeraldError.unprocessable(problem, code: "invalid_channel")
            }
            target = .channel(name)
        }
        name = try Self.string(object, "name")
        if let problem = Self.problem(withEventName: name) {
            throw HeraldError.unprocessable(problem, code: "invalid_name")
        }
        let modeText = object["mode"] == nil ? "append" : try Self.string(object, "mode")
        guard let mode = StreamNotification.Mode(rawValue: modeText) else {
            throw HeraldError.unprocessable("mode is \"replace\" or \"append\".", code: "invalid_mode")
        }
        self.mode = mode
        self.json = json
    }

    /// Event names travel in SSE `event:` lines and WebSocket frames: 1–64 of `[A-Za-z0-9_.:-]`,
    /// and the `herald.` prefix is Herald's own (`herald.reset`).
    static func problem(withEventName name: String) -> String? {
        let allowed = (1...64).contains(name.utf8.count) && NameCharacters.only(name, punctuation: ["_", ".", ":", "-"])
        if !allowed { return "A name has 1 to 64 of the characters A–Z, a–z, 0–9, '_', '.', ':' and '-'." }
        if name.hasPrefix("herald.") { return "Names starting with herald. are reserved." }
        return nil
    }

    private static func string(_ object: [String: Any], _ key: String) throws -> String {
        guard let value = object[key] as? String else {
            throw HeraldError.unprocessable("The field \(key) must be a string.", code: object[key] == nil ? "missing_field" : "invalid_field")
        }
        return value
    }
}

extension JSONValue {
    /// As Foundation's parser gives it, for the fields that are checked as Foundation values.
    var foundationValue: Any {
        switch self {
        case .null: NSNull()
        case .bool(let value): value
        case .number(let value): value
        case .string(let value): value
        case .array(let items): items.map(\.foundationValue)
        case .object(let members): Dictionary(members.map { ($0.key, $0.value.foundationValue) }, uniquingKeysWith: { _, last in last })
        case .binary: NSNull()  // only Socket.IO attachments are binary, never parsed text
        }
    }
}
