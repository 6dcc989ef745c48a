/// How long a stream keeps its events (append notifications). States are kept until replaced.
public struct Retention: Sendable, Equatable {
    public var maxCount: Int
    public var maxAge: Double

    public init(maxCount: Int = 1000, maxAge: Double = 7 * 24 * 3600) {
        self.maxCount = maxCount
        self.maxAge = maxAge
    }
}
