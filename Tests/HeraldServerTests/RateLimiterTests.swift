@testable import HeraldServer
import Testing

/// The token buckets behind every rate limit, on a clock the test moves.
@Suite struct RateLimiterTests {
    let start = ContinuousClock.now

    @Test func aKeySpendsItsBurstThenWaitsForTheRefill() throws {
        let limiter = RateLimiter(burst: 3, per: .seconds(3))
        for _ in 0..<3 { try limiter.take("a", now: start) }
        let refusal = #expect(throws: RateLimiter.Refusal.self) { try limiter.take("a", now: start) }
        #expect(refusal?.retryAfter == 1)
        // Other keys have their own allowance.
        try limiter.take("b", now: start)
        // One unit a second comes back.
        try limiter.take("a", now: start + .seconds(1))
        #expect(throws: RateLimiter.Refusal.self) { try limiter.take("a", now: start + .seconds(1)) }
    }

    @Test func checkSpendsNothingAndResetForgets() throws {
        let limiter = RateLimiter(burst: 2, per: .seconds(900))
        try limiter.take("user", now: start)
        try limiter.take("user", now: start)
        let refusal = #expect(throws: RateLimiter.Refusal.self) { try limiter.check("user", now: start) }
        #expect(refusal?.retryAfter == 450)
        limiter.reset("user")
        try limiter.check("user", now: start)
        try limiter.check("user", now: start)
        try limiter.take("user", now: start)
    }

    @Test func zeroMeansNoLimit() throws {
        let limiter = RateLimiter(burst: 0, per: .seconds(1))
        for _ in 0..<10_000 { try limiter.take("a", now: start) }
    }

    @Test func aFloodOfNewKeysCannotGrowTheTableWithoutBound() throws {
        let limiter = RateLimiter(burst: 1, per: .seconds(60), maxKeys: 100)
        for key in 0..<10_000 { try limiter.take("k\(key)", now: start) }
        // The table started over rather than grow: some early key has its allowance again.
        #expect(throws: Never.self) { try limiter.take("k0", now: start) }
    }
}
