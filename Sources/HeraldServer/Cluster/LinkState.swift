import Synchronization

/// Whether a connection this node needs is up (its Redis subscription, its LISTEN for the
/// PostgreSQL bus), for `/readyz`.
public final class LinkState: Sendable {
    private let up = Atomic<Bool>(false)

    public var isUp: Bool { up.load(ordering: .relaxed) }

    public func set(_ value: Bool) {
        up.store(value, ordering: .relaxed)
    }
}
