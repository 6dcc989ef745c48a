import Foundation
import Hummingbird
import NIOFoundationCompat
import SocketIO

/// Reads a JSON request body within the size limit, telling apart what the client got wrong:
/// not JSON at all (400), or JSON of the wrong shape (422, naming the field).
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        try decode(type, from: Data(buffer: try await request.body.collect(upTo: limit)))
    }

    /// As `decode`, but a body `quick` takes from Herald's own parse of it (`JSONValue`) is not
    /// decoded again: Foundation's decoder cost a message a twentieth of its CPU. What `quick`
    /// leaves (nil) is decoded as `decode` does, so every refusal says what it said before.
    static func decode<T: Decodable>(
        _ type: T.Type, from request: Request, limit: Int, quick: (JSONValue) -> T?
    ) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        if let parsed = heraldParse(buffer.readableBytesView), let decoded = quick(parsed.value) { return decoded }
        return try decode(type, from: Data(buffer: buffer))
    }

    /// The body as text and as Herald's own parse of it (`JSONValue`); nil when it is not UTF-8
    /// (refused, not repaired, as Foundation refuses it) or not JSON to Herald's parser, whose
    /// depth counts from 0 at the top where Foundation's counts from 1: the same bodies nest too
    /// deep for both.
    static func heraldParse(_ bytes: some Collection<UInt8>) -> (text: String, value: JSONValue)? {
        guard let text = String(validating: bytes, as: UTF8.self),
            let value = JSONValue(parsing: Substring(text), maxDepth: maxNesting - 1)
        else { return nil }
        return (text, value)
    }

    private static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            // Parsed a second time only when it failed, to tell bad JSON from the wrong fields.
            _ = try parse(data)
            throw fieldError(error)
        }
    }

    /// What a decoding error of JSON text says about its fields.
    private static func fieldError(_ error: any Error) -> HeraldError {
        switch error {
        case let DecodingError.keyNotFound(key, _):
            return .unprocessable("The field \(key.stringValue) is missing.", code: "missing_field")
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            let message = field.isEmpty ? "The body must be a JSON object." : "The field \(field) has the wrong type."
            return .unprocessable(message, code: "invalid_field")
        default:
            return .unprocessable("The body does not have the expected fields.", code: "invalid_field")
        }
    }

    /// Any JSON value, or a 400 that says whether the body is not JSON or only nested too deep.
    static func parse(_ data: Data) throws -> Any {
        if let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) { return value }
        if deepestNesting(data) > maxNesting {
            throw HeraldError.badRequest("The body nests arrays or objects more than \(maxNesting) deep.", code: "invalid_json")
        }
        throw HeraldError.badRequest("The body is not valid JSON.", code: "invalid_json")
    }

    /// Foundation's parser refuses deeper nesting than this, as a stack guard.
    static let maxNesting = 512

    /// How deep the body's brackets go, strings skipped: tells a body refused for its depth from
    /// one that is not JSON.
    static func deepestNesting(_ data: Data) -> Int {
        var depth = 0, deepest = 0
        var string = JSONStringState()
        for byte in data where !string.consume(byte) {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1; deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }
}
