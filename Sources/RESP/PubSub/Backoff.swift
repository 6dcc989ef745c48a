/// How long to wait before the next connection attempt: doubling from `initial` up to `maximum`,
/// with jitter so that many nodes that lost Redis together do not all return in the same instant.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    private var attempt = 0

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = maximum
    }

    public mutating func next() -> Duration {
        let doubled = initial * (1 << min(attempt, 20))
        attempt += 1
        let delay = min(doubled, maximum)
        return delay * Double.random(in: 0.5...1.0)
    }

    public mutating func reset() {
        attempt = 0
    }
}
