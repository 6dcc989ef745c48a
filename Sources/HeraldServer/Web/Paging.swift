import Hummingbird

/// The `page` query parameter, and the values the shared pager template shows.
enum Paging {
    static func page(of request: Request) throws -> Int {
        guard let raw = request.uri.queryParameters["page"] else { return 1 }
        guard let page = Int(raw), page >= 1, page <= 1_000_000 else {
            throw HeraldError.badRequest("The page must be a whole number from 1.", code: "invalid_page")
        }
        return page
    }

    static func pagerValues(
        path: String, page: Int, pageCount: Int, newerLabel: String, olderLabel: String
    ) -> [String: Any] {
        var values: [String: Any] = [
            "page": page, "pageCount": pageCount, "newerLabel": newerLabel, "olderLabel": olderLabel,
        ]
        if page > 1 { values["newerURL"] = "\(path)?page=\(page - 1)" }
        if page < pageCount { values["olderURL"] = "\(path)?page=\(page + 1)" }
        return values
    }
}
