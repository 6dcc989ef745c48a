import EngineIO
import HeraldCore
import Hummingbird
import NIOCore
import SocketIO

/// `GET /metrics`: every metric of this node in Prometheus's text format. What is cheaper to read
/// than to keep current (Socket.IO sessions by transport, the bus's state) is read here, per scrape.
struct MetricsEndpoint {
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/metrics") { _, _ in
            scrape()
        }
    }

    func scrape() -> Response {
        let metrics = herald.metrics
        let sessions = herald.socketIO.server.engine.sessionCounts
        metrics.set(.socketIOPolling, to: sessions.polling)
        metrics.set(.socketIOWebSocket, to: sessions.webSocket)
        if let bus = herald.clusterBus {
            let isUp = herald.configuration.effectiveBus == .postgres ? herald.postgresBusLink.isUp : herald.redisLink.isUp
            metrics.bus(isUp: isUp, held: bus.heldCount)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
    }
}
