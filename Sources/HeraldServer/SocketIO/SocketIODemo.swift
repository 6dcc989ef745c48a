import Foundation
import HeraldCore
import Hummingbird

/// `/socketio-demo`, Flask-SocketIO's example page on Herald, and the stock client it loads from
/// `/socket.io/socket.io.min.js` (the path Socket.IO's own server uses), read from the file named
/// by `--socketio-client`.
struct SocketIODemo: Sendable {
    let herald: Herald
    /// The client's bytes, read once at start; nil when no file is configured or it is unreadable.
    let client: ByteBuffer?

    init(herald: Herald) {
        self.herald = herald
        self.client = herald.configuration.socketIOClientPath
            .flatMap { FileManager.default.contents(atPath: $0) }
            .map { ByteBuffer(bytes: $0) }
    }

    static let howToGetTheClient =
        "Herald ships no third-party code: fetch the Socket.IO client with scripts/fetch-socketio-client, "
        + "then start Herald with --socketio-client PATH (or HERALD_SOCKETIO_CLIENT=PATH)."

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/socket.io/socket.io.min.js") { _, _ in
            guard let client else {
                return Response(
                    status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: Self.howToGetTheClient + "\n")))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/javascript; charset=utf-8", .cacheControl: "max-age=3600"],
                body: .init(byteBuffer: client))
        }
        router.get("/socketio-demo") { request, context in
            try await herald.page(
                "socketio_demo", title: "Socket.IO demo",
                values: ["clientAvailable": client != nil, "howToGetTheClient": Self.howToGetTheClient],
                request: request, context: context)
        }
    }
}
