import Synchronization

/// Whether this node is the one that does what must happen once per cluster: persisting what
/// other processes publish through Redis, which every node hears. A lone node always leads; in
/// multi-node mode the node holding a PostgreSQL advisory lock does.
public final class Leadership: Sendable {
    private let leading: Atomic<Bool>

    public init(leading: Bool = true) {
        self.leading = Atomic(leading)
    }

    public var isLeading: Bool { leading.load(ordering: .relaxed) }

    public func set(_ value: Bool) {
        leading.store(value, ordering: .relaxed)
    }
}
