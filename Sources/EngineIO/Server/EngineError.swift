/// The errors the Engine.IO protocol answers HTTP requests with: status 400 and a JSON body
/// `{"code": N, "message": "..."}`, with the codes the reference server uses.
public enum EngineError: Int, Error, Sendable {
    case unknownTransport = 0
    case unknownSession = 1
    case badHandshakeMethod = 2
    case badRequest = 3
    case forbidden = 4
    case unsupportedProtocolVersion = 5

    public var message: String {
        switch self {
        case .unknownTransport: "Transport unknown"
        case .unknownSession: "Session ID unknown"
        case .badHandshakeMethod: "Bad handshake method"
        case .badRequest: "Bad request"
        case .forbidden: "Forbidden"
        case .unsupportedProtocolVersion: "Unsupported protocol version"
        }
    }

    public var status: Int { self == .forbidden ? 403 : 400 }

    public var body: String { #"{"code":\#(rawValue),"message":"\#(message)"}"# }
}
