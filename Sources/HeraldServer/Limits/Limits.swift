import Foundation
import HTTPTypes
import HeraldCore
import NIOCore
import Synchronization

/// The rate limits of one node, all in memory (each node counts its own): failed logins per
/// username and per client address, publishes per credential, new and held connections per
/// address. A refusal is a 429 with `Retry-After`, decided before anything is written.
final class Limits: Sendable {
    let loginFailuresPerUser: RateLimiter
    let loginFailuresPerAddress: RateLimiter
    let publishes: RateLimiter
    let newConnections: RateLimiter
    let heldPerAddress: Int
    let trustForwardedFor: Bool
    let streamsPerConnection: Int
    private let held = Mutex([String: Int]())

    init(_ configuration: HeraldConfiguration) {
        let window = Duration.seconds(configuration.loginWindow)
        loginFailuresPerUser = RateLimiter(burst: configuration.loginFailuresPerUser, per: window)
        loginFailuresPerAddress = RateLimiter(burst: configuration.loginFailuresPerAddress, per: window)
        publishes = RateLimiter(burst: configuration.publishesPerSecond, per: .seconds(1))
        // A second's worth ten times over may come at once: a page of tabs, a reconnecting office.
        newConnections = RateLimiter(burst: configuration.newConnectionsPerSecond * 10, per: .seconds(10))
        heldPerAddress = configuration.heldConnectionsPerAddress
        trustForwardedFor = configuration.trustForwardedFor
        streamsPerConnection = configuration.streamsPerConnection
    }

    /// Who is asking: the peer's address, or, behind a proxy Herald is told to trust, the last
    /// address of `X-Forwarded-For` (the one the proxy itself appended).
    func client(peer: SocketAddress?, headers: HTTPFields) -> String {
        if trustForwardedFor, let forwardedFor = headers[Self.forwardedFor],
            let last = forwardedFor.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty
        {
            return last
        }
        return peer?.ipAddress ?? "unknown"
    }

    /// Refuses a connection that would read more than `streamsPerConnection` streams at once
    /// (the user's own included): every stream is a subscription in the hub and a replay.
    func checkStreams(_ count: Int) throws(HeraldError) {
        guard count <= streamsPerConnection else {
            throw HeraldError.badRequest(
                "A connection reads at most \(streamsPerConnection) streams, the user's own included.",
                code: "too_many_streams")
        }
    }

    /// Whether a new connection may stay: its address is under both the new-connections rate and
    /// the held-connections limit. An admitted connection counts as held until it closes. Behind a
    /// trusted proxy every connection comes from the proxy, so these are the proxy's to enforce.
    func admit(_ channel: any NIOCore.Channel) -> HeraldError? {
        guard !trustForwardedFor else { return nil }
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        do {
            try newConnections.take(address)
        } catch {
            return .tooManyRequests(
                "This address opens connections faster than it may.", retryAfter: error.retryAfter,
                code: "too_many_new_connections")
        }
        guard let ticket = hold(from: address) else { return .tooManyConnections }
        channel.closeFuture.whenComplete { [self] _ in release(ticket) }
        return nil
    }

    /// A held connection from `address` begins: nil when the address holds its limit already.
    /// Call `release` with the ticket when the connection ends.
    private func hold(from address: String) -> HeldTicket? {
        guard heldPerAddress > 0 else { return HeldTicket(address: address) }
        let admitted = held.withLock { held -> Bool in
            let count = held[address, default: 0]
            guard count < heldPerAddress else { return false }
            held[address] = count + 1
            return true
        }
        return admitted ? HeldTicket(address: address) : nil
    }

    private func release(_ ticket: HeldTicket) {
        guard heldPerAddress > 0 else { return }
        held.withLock { held in
            let count = held[ticket.address, default: 1] - 1
            held[ticket.address] = count > 0 ? count : nil
        }
    }

    private static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    struct HeldTicket: Sendable {
        let address: String
    }
}

extension HeraldError {
    static func tooManyRequests(_ message: String, retryAfter: Int, code: String = "rate_limited") -> Self {
        .init(status: .tooManyRequests, code: code, message: message, retryAfter: retryAfter)
    }

    static let tooManyConnections = HeraldError(
        status: .tooManyRequests, code: "too_many_connections",
        message: "This address has as many connections open as it may; close one first.", retryAfter: 5)
}
