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

    /// The whole message: the shared prefix, then this connection's offset (`cursors` of
    /// `streams`). Room is left in front for the WebSocket frame header, which the frame layer
    /// then writes in place (`WebSocketFraming.text`): the frame leaves as one buffer.
    static func complete(_ prefix: ByteBuffer, offset cursors: StreamCursors, of streams: [StreamName]) -> ByteBuffer {
        var message = ByteBufferAllocator().buffer(capacity: headroom + prefix.readableBytes + 24 + 16 * streams.count)
        message.moveWriterIndex(forwardBy: headroom)
        message.moveReaderIndex(forwardBy: headroom)
        message.writeImmutableBuffer(prefix)
        message.writeStaticString(",\"")
        cursors.write(for: streams, to: &message)
        message.writeStaticString("\"]")
        return message
    }

    private static let headroom = WebSocketFraming.maxHeaderLength

    /// `herald.reset`: the cursor was older than the retention; what follows is what is kept.
    static func reset(_ stream: StreamName, cursor: Int64, missedThrough: Int64) -> ByteBuffer {
        let data = #"{"stream":"# + JSONResponse.quoted(WebSocketFrames.label(stream))
            + #","cursor":\#(cursor),"missed_through":\#(missedThrough)}"#
        return ByteBuffer(string: "42\(namespace),[\"herald.reset\"," + data)
    }
}
