import Foundation
import Hummingbird
import NIOFoundationCompat

/// Reads a JSON request body within the size limit, telling apart what the client got wrong:
/// not JSON at all (400), or JSON of the wrong shape (422, naming the field).
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        let data = Data(buffer: buffer)
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
            throw HeraldError.badRequest("The body is not valid JSON.", code: "invalid_json")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw HeraldError.unprocessable("The field \(key.stringValue) is missing.", code: "missing_field")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            let message = field.isEmpty ? "The body must be a JSON object." : "The field \(field) has the wrong type."
            throw HeraldError.unprocessable(message, code: "invalid_field")
        } catch {
            throw HeraldError.unprocessable("The body does not have the expected fields.", code: "invalid_field")
        }
    }
}
