import Foundation
import Hummingbird

/// A submitted `application/x-www-form-urlencoded` form, read within the size limit and checked
/// against the browser's CSRF token before any handler sees it.
struct FormData: Sendable {
    private var fields: [String: String]

    init(parsing text: String) {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""
            if fields[name] == nil { fields[name] = value }
        }
        self.fields = fields
    }

    /// Reads the request's form body; throws 413 past `limit` and 403 without a valid CSRF token.
    static func read(_ request: Request, context: HeraldRequestContext, limit: Int) async throws -> FormData {
        let buffer = try await request.body.collect(upTo: limit)
        let form = FormData(parsing: String(buffer: buffer))
        try CSRFMiddleware.verify(form[CSRFMiddleware.formField], context: context)
        return form
    }

    subscript(_ name: String) -> String? { fields[name] }

    private static func decode(_ component: Substring) -> String? {
        component.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
