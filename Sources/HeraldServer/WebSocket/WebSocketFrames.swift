import Foundation
import HeraldCore
import NIOCore
import WebSocketFrameLayer

/// The server's side of Herald's WebSocket protocol: every frame is a JSON text message with a `type`.
enum WebSocketFrames {
    /// Events: encoded once per event and shared by every WebSocket reader of the stream.
    static let event = EventEncoding(id: "ws", transport: "ws") { event in
        encode(event, resent: false)
    }

    /// The same as whole text frames, for connections on Herald's own frame layer.
    static let framedEvent = EventEncoding(id: "ws.framed", transport: "ws") { event in
        WebSocketFraming.text(encode(event, resent: false))
    }

    static func encode(_ event: StreamEvent, resent: Bool) -> ByteBuffer {
        let n = event.notification
        var text = #"{"type":"event","stream":"# + JSONResponse.quoted(label(event.stream))
        text += #","seq":\#(n.seq),"name":"# + JSONResponse.quoted(n.name)
        text += #","data":\#(n.json),"timestamp":\#(n.timestamp)"#
        if resent { text += #","resent":true"# }
        return ByteBuffer(string: text + "}")
    }

    static func reset(_ stream: StreamName, cursor: Int64, missedThrough: Int64) -> ByteBuffer {
        ByteBuffer(string: #"{"type":"reset","stream":"# + JSONResponse.quoted(label(stream))
            + #","cursor":\#(cursor),"missed_through":\#(missedThrough)}"#)
    }

    static func ack(_ id: String, _ fields: [String: String] = [:]) -> ByteBuffer {
        var text = #"{"type":"ack","id":\#(id)"#
        for (key, json) in fields.sorted(by: { $0.key < $1.key }) { text += ",\(JSONResponse.quoted(key)):\(json)" }
        return ByteBuffer(string: text + "}")
    }

    static func error(_ id: String, _ error: HeraldError) -> ByteBuffer {
        ByteBuffer(
            string: #"{"type":"error","id":\#(id),"code":"# + JSONResponse.quoted(error.code) + #","message":"#
                + JSONResponse.quoted(error.message) + "}")
    }

    /// How a stream is named on the wire: the user's own stream is just `user`, so the same bytes
    /// serve every reader; channels are `channel:NAME`.
    static func label(_ stream: StreamName) -> String {
        switch stream {
        case .user: "user"
        case .channel(let name): "channel:\(name)"
        }
    }
}
