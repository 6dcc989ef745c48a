import Foundation
import Synchronization

/// Token buckets by key (a username, an address, a key's digest): each key may spend `burst`
/// at once and earns `burst` back over `period`. Every rate limit of Herald is one of these.
///
/// Memory is bounded: a full bucket is the same as none, so buckets that have refilled are
/// dropped, and past `maxKeys` the whole table starts over (a flood of new keys, each spending
/// once, cannot grow it without bound; it can only reset everyone's allowance, which is the
/// lesser harm).
final class RateLimiter: Sendable {
    /// What `take` says when a key has nothing left.
    struct Refusal: Error {
        /// Seconds until a unit is back.
        let retryAfter: Int
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let burst: Double
    private let perSecond: Double
    private let maxKeys: Int
    private let buckets = Mutex([String: Bucket]())

    /// `burst` 0 means no limit.
    init(burst: Int, per period: Duration, maxKeys: Int = 100_000) {
        self.burst = Double(burst)
        let seconds = Double(period.components.seconds) + Double(period.components.attoseconds) / 1e18
        self.perSecond = seconds > 0 ? Double(burst) / seconds : .infinity
        self.maxKeys = maxKeys
    }

    var isUnlimited: Bool { burst <= 0 }

    /// Spends `cost` of `key`'s allowance, or says how long until it could.
    func take(_ key: String, cost: Double = 1, now: ContinuousClock.Instant = .now) throws(Refusal) {
        guard !isUnlimited else { return }
        let wait: Double? = buckets.withLock { buckets in
            var bucket = refilled(buckets[key], now: now)
            guard bucket.tokens >= cost else { return (cost - bucket.tokens) / perSecond }
            bucket.tokens -= cost
            if buckets.count >= maxKeys, buckets[key] == nil { prune(&buckets, now: now) }
            buckets[key] = bucket
            return nil
        }
        if let wait { throw Refusal(retryAfter: max(1, Int(wait.rounded(.up)))) }
    }

    /// Whether `key` has `cost` left, without spending it.
    func check(_ key: String, cost: Double = 1, now: ContinuousClock.Instant = .now) throws(Refusal) {
        guard !isUnlimited else { return }
        let tokens = buckets.withLock { refilled($0[key], now: now).tokens }
        if tokens < cost { throw Refusal(retryAfter: max(1, Int(((cost - tokens) / perSecond).rounded(.up)))) }
    }

    /// Forgets `key`'s spending: a successful login clears its failures.
    func reset(_ key: String) {
        _ = buckets.withLock { $0.removeValue(forKey: key) }
    }

    private func refilled(_ bucket: Bucket?, now: ContinuousClock.Instant) -> Bucket {
        guard var bucket else { return Bucket(tokens: burst, updated: now) }
        let elapsed = now - bucket.updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket.tokens = min(burst, bucket.tokens + seconds * perSecond)
        bucket.updated = now
        return bucket
    }

    private func prune(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant) {
        buckets = buckets.filter { refilled($0.value, now: now).tokens < burst }
        if buckets.count >= maxKeys { buckets.removeAll() }
    }
}
