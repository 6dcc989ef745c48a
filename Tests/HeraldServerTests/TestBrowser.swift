import Foundation
import HTTPTypes
import HeraldCore
import HeraldServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A Herald on a fresh SQLite file, with a cheap bcrypt cost so tests stay fast.
func makeHerald(_ adjust: (inout HeraldConfiguration) -> Void = { _ in }) throws -> Herald {
    var configuration = HeraldConfiguration()
    configuration.bcryptCost = 4
    configuration.dataDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("herald-test-\(UUID().uuidString)").path
    adjust(&configuration)
    let store = try SQLiteStore(directory: configuration.dataDirectory, retention: configuration.retention)
    return try Herald(configuration: configuration, store: store)
}

/// Runs `body` against the router of a fresh Herald.
func withHerald(
    _ adjust: (inout HeraldConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (Herald, any TestClientProtocol) async throws -> Void
) async throws {
    let herald = try makeHerald(adjust)
    let app = Application(router: herald.router())
    try await app.test(.router) { client in try await body(herald, client) }
}

/// One browser: keeps its cookies between requests and reads the CSRF token off the pages it gets.
final class TestBrowser: @unchecked Sendable {
    let client: any TestClientProtocol
    private(set) var cookies: [String: String] = [:]
    private(set) var csrfToken: String?

    init(_ client: any TestClientProtocol) {
        self.client = client
    }

    @discardableResult
    func get(_ uri: String) async throws -> TestResponse {
        try await send(uri, method: .get)
    }

    /// Posts a form, adding the CSRF token the browser last saw unless `csrf` overrides it.
    @discardableResult
    func post(_ uri: String, form: [String: String], csrf: String?? = .none) async throws -> TestResponse {
        var fields = form
        let token: String? = csrf ?? csrfToken
        if let token { fields["csrf_token"] = token }
        let body = fields.map { "\(Self.encode($0.key))=\(Self.encode($0.value))" }.joined(separator: "&")
        return try await send(
            uri, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: body))
    }

    @discardableResult
    func send(_ uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil)
        async throws -> TestResponse
    {
        var headers = headers
        if !cookies.isEmpty {
            headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        for line in response.headers[values: .setCookie] {
            let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            let name = String(pair[0]), value = pair.count > 1 ? String(pair[1]) : ""
            if value.isEmpty || line.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        let html = String(buffer: response.body)
        if let range = html.range(of: #"name="csrf_token" value=""#) {
            csrfToken = String(html[range.upperBound...].prefix { $0 != "\"" })
        }
        return response
    }

    func register(_ username: String, password: String = "correct horse") async throws {
        try await get("/register")
        let response = try await post(
            "/register", form: ["username": username, "password": password, "password2": password])
        #expect(response.status == .seeOther, "registering \(username)")
    }

    func sendMessage(to recipient: String, _ text: String) async throws -> TestResponse {
        try await get("/send_message/\(recipient)")
        return try await post("/send_message/\(recipient)", form: ["message": text])
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    /// The `{"error": {"code": …}}` of an API error.
    func errorCode() throws -> String? {
        ((try json() as? [String: Any])?["error"] as? [String: Any])?["code"] as? String
    }

    /// `[(name, data, seq)]` of a notifications response.
    func notifications() throws -> [(name: String, data: Any, seq: Int)] {
        let list = try #require(try json() as? [[String: Any]])
        return try list.map {
            (try #require($0["name"] as? String), try #require($0["data"]), try #require($0["seq"] as? Int))
        }
    }
}
