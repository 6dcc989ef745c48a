import EngineIO
import HeraldCore
import NIOCore
import WebSocketFrameLayer

/// How `/notifications` events look on the wire: an Engine.IO message (`4`) holding a Socket.IO
/// event (`2`) of the namespace, named by the notification, with three arguments and the offset:
///
/// `42/notifications,["unread_message_count",3,{"stream":"user","seq":17,"timestamp":…},"17"]`
///
/// The last argument is the connection's cursor after this event (`17`, or `17;lobby=5` with
/// channels): socket.io-client 4.6+ keeps it and offers it back when it reconnects. Everything up
/// to it is the same for every reader of the stream, so the hub encodes it once; each connection
/// adds only its cursor.
enum SocketIOFrames {
    static let namespace = "/notifications"

    static let event = EventEncoding(id: "socket.io", transport: "socketio") { event in
        prefix(name: event.notification.name, data: event.notification.json, stream: event.stream,
            seq: event.notification.seq, timestamp: event.notification.timestamp)
    }

    /// The event without its offset and closing bracket.
    static func prefix(name: String, data: String, stream: StreamName, seq: Int64, timestamp: Double) -> ByteBuffer {
        var text = "42\(namespace),[" + JSONResponse.quoted(name) + "," + data
        text += #",{"stream":"# + JSONResponse.quoted(WebSocketFrames.label(stream)) + #","seq":\#(seq),"timestamp":\#(timestamp)}"#
        return ByteBuffer(string: text)
    }

    /// Writes the whole message to `session`: the shared prefix, then this connection's offset
    /// (`cursors` of `streams`), in one pass over raw memory. On a WebSocket it is framed in place
    /// beside the connection's other messages since its last flush (`FramedWriter.writeText`),
    /// so a burst of events costs a connection one buffer, not one per event.
    static func write(_ prefix: ByteBuffer, offset cursors: StreamCursors, of streams: [StreamName], to session: EngineSession) {
        let prefixLength = prefix.readableBytes
        session.writeMessage(maxLength: prefixLength + 4 + cursors.maxLength(for: streams)) { message in
            _ = prefix.copyReadableBytes(to: message)
            message[prefixLength] = UInt8(ascii: ",")
            message[prefixLength + 1] = UInt8(ascii: "\"")
            let end = prefixLength + 2 + cursors.write(for: streams, to: UnsafeMutableRawBufferPointer(rebasing: message[(prefixLength + 2)...]))
            message[end] = UInt8(ascii: "\"")
            message[end + 1] = UInt8(ascii: "]")
            return end + 2
        }
    }

    /// `herald.reset`: the cursor was older than the retention; what follows is what is kept.
    static func reset(_ stream: StreamName, cursor: Int64, missedThrough: Int64) -> ByteBuffer {
        let data = #"{"stream":"# + JSONResponse.quoted(WebSocketFrames.label(stream))
            + #","cursor":\#(cursor),"missed_through":\#(missedThrough)}"#
        return ByteBuffer(string: "42\(namespace),[\"herald.reset\"," + data)
    }
}
