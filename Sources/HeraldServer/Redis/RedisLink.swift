import Synchronization

/// Whether this node's subscription to Redis is up, for `/readyz`.
final class RedisLink: Sendable {
    private let up = Atomic<Bool>(false)

    var isUp: Bool { up.load(ordering: .relaxed) }

    func set(_ value: Bool) {
        up.store(value, ordering: .relaxed)
    }
}
