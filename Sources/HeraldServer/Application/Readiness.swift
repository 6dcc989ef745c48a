import HeraldCore
import Hummingbird

/// `GET /readyz`: 200 when this node can serve, 503 naming what it is waiting for: the store
/// (the database answers), when a Redis server is configured the subscription to it (the bus
/// between nodes, and other processes' publishes), and with the PostgreSQL bus its LISTEN. `/healthz` stays the liveness probe: a
/// node that is not ready is still alive, and reconnects by itself.
struct Readiness {
    let herald: Herald

    struct Report: Encodable {
        var status: String
        var store: String
        var redis: String?
        /// The PostgreSQL bus's LISTEN, when that is the bus.
        var bus: String?
    }

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.get("/readyz") { _, _ in
            try await check()
        }
    }

    func check() async throws -> Response {
        var report = Report(status: "ready", store: "ok", redis: nil)
        do {
            try await herald.store.checkHealth()
        } catch {
            report.store = "unavailable"
        }
        if herald.redisEndpoint != nil {
            report.redis = herald.redisLink.isUp ? "ok" : "unavailable"
        }
        if herald.configuration.effectiveBus == .postgres {
            report.bus = herald.postgresBusLink.isUp ? "ok" : "unavailable"
        }
        let ready = report.store == "ok" && report.redis != "unavailable" && report.bus != "unavailable"
        if !ready { report.status = "unavailable" }
        return try JSONResponse.encode(report, status: ready ? .ok : .serviceUnavailable)
    }
}
