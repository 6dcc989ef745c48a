import NIOCore

/// What the engine needs of an HTTP request, whatever server carries it.
public struct EngineRequest: Sendable {
    public var method: String
    public var query: [String: String]
    /// Header names in lower case.
    public var headers: [String: String]
    public var remoteAddress: String?

    public init(method: String, query: [String: String], headers: [String: String], remoteAddress: String? = nil) {
        self.method = method
        self.query = query
        self.headers = headers
        self.remoteAddress = remoteAddress
    }
}

/// The engine's answer to a polling request, for the HTTP server to write.
public struct EngineResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var headers: [String: String]
    public var body: ByteBuffer

    public init(status: Int, contentType: String = "text/plain; charset=UTF-8", headers: [String: String] = [:], body: ByteBuffer) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    static func text(_ text: String) -> EngineResponse {
        EngineResponse(status: 200, body: ByteBuffer(string: text))
    }

    /// The protocol's answer to a refused request: its status and JSON code.
    public static func error(_ error: EngineError) -> EngineResponse {
        EngineResponse(status: error.status, contentType: "application/json", body: ByteBuffer(string: error.body))
    }

    static let ok = text("ok")
    static let payloadTooLarge = EngineResponse(
        status: 413, contentType: "application/json",
        body: ByteBuffer(string: #"{"code":3,"message":"Payload too large"}"#))
}

/// The request that opened a session, kept for the layers above (authentication, for one).
///
/// A session may be held for days, so its query and headers are packed into one array of bytes
/// rather than kept as two dictionaries of strings (several allocations each); they are unpacked
/// when asked for.
public struct EngineHandshake: Sendable {
    /// The query's pairs, then the headers'.
    private let packed: PackedPairs
    private let queryCount: Int
    public let remoteAddress: String?
    /// "polling" or "websocket": the transport the session started on.
    public let transport: String

    init(query: [String: String], headers: [String: String], remoteAddress: String?, transport: String) {
        self.packed = PackedPairs(Array(query) + Array(headers))
        self.queryCount = query.count
        self.remoteAddress = remoteAddress
        self.transport = transport
    }

    public var query: [String: String] { packed.dictionary(of: 0..<queryCount) }
    /// Header names in lower case.
    public var headers: [String: String] { packed.dictionary(of: queryCount..<packed.count) }

    /// One header, by its name in lower case, without unpacking the others.
    public func header(_ name: String) -> String? { packed.value(for: name, in: queryCount..<packed.count) }
}
