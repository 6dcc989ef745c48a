import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOWebSocket
import WebSocketFrameLayer

/// The server's half of the WebSocket opening handshake (RFC 6455 section 4.2), for connections
/// whose request head was read by hand: checks the request, answers 101, and swaps the HTTP
/// handlers for WebSocket framing and a `WebSocketMessageHandler`.
enum WebSocketUpgrade {
    enum Refusal: Error, Equatable {
        /// Not an Upgrade request at all.
        case notWebSocket
        /// A WebSocket version other than 13.
        case unsupportedVersion
    }

    private static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for the request's key, after checking it asks for WebSocket 13.
    static func acceptKey(for head: HTTPRequestHead) throws(Refusal) -> String {
        let upgrade = head.headers.first(name: "upgrade")?.lowercased() ?? ""
        let connection = head.headers[canonicalForm: "connection"].map { $0.lowercased() }
        guard upgrade == "websocket", connection.contains("upgrade"),
            let key = head.headers.first(name: "sec-websocket-key"), !key.isEmpty
        else { throw .notWebSocket }
        guard head.headers.first(name: "sec-websocket-version") == "13" else { throw .unsupportedVersion }
        return Data(Insecure.SHA1.hash(data: Data((key + guid).utf8))).base64EncodedString()
    }

    /// Answers 101 and installs the frame layer. Call on the channel's event loop, with the HTTP
    /// decoder already gone; `removing` names a handler of the caller's to take out as well.
    /// Without `flush`, the 101 waits for the caller's first flush, to leave with what it writes.
    static func switchProtocols(
        _ channel: any Channel, accept: String, removing handlerName: String?, maxMessageSize: Int,
        receiver: any WebSocketMessageReceiver, flush: Bool = true
    ) throws {
        let pipeline = channel.pipeline.syncOperations
        channel.write(
            ByteBuffer(
                string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"),
            promise: nil)
        if let handlerName { pipeline.removeHandler(name: handlerName, promise: nil) }
        try pipeline.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxMessageSize)))
        try pipeline.addHandler(WebSocketFrameEncoder())
        try pipeline.addHandler(WebSocketProtocolErrorHandler(isServer: true))
        try pipeline.addHandler(WebSocketMessageHandler(receiver: receiver, maxMessageSize: maxMessageSize))
        if flush { channel.flush() }
    }
}
