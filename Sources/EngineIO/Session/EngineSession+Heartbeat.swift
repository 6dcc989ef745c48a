import NIOCore

/// The server's pings: one after `pingInterval`, then a session whose client has not answered
/// within `pingTimeout` closes.
///
/// A session keeps a single timer and never cancels it while it is open: a pong only notes the
/// time, and the timer, when it fires, works out what is due. Cancelling a timer on NIO's loop
/// searches every timer of the loop, which, once per pong of every connection, is what an idle
/// server would spend its time on at tens of thousands of connections.
///
/// Only when the next ping is due before the pending timer (a ping timeout longer than the
/// interval) does a pong schedule a new one; the old one then finds it is no longer the
/// session's and does nothing.
extension EngineSession {
    private static let ping = ByteBuffer(string: "2")

    /// On the event loop, when the session opens.
    func startHeartbeat() {
        lastPong = .now()
        schedule(at: lastPong + pingInterval)
    }

    func pongArrived() {
        pongDeadline = nil
        lastPong = .now()
        let nextPing = lastPong + pingInterval
        if nextPing < heartbeatAt { schedule(at: nextPing) }
    }

    fileprivate func heartbeatDue(_ deadline: NIODeadline) {
        guard !isClosed, deadline == heartbeatAt else { return }
        let now = NIODeadline.now()
        if let pongDeadline {
            if now >= pongDeadline { return close(.pingTimeout) }
            return schedule(at: pongDeadline)
        }
        let nextPing = lastPong + pingInterval
        if now < nextPing { return schedule(at: nextPing) }
        write(encodedPacket: Self.ping)
        flush()
        pongDeadline = now + pingTimeout
        schedule(at: pongDeadline!)
    }

    private func schedule(at deadline: NIODeadline) {
        // Fails only on a loop that is shutting down, when nothing is left to ping.
        heartbeatAt = deadline
        heartbeat = try? eventLoop.scheduleCallback(at: deadline, handler: HeartbeatTimer(session: self, deadline: deadline))
    }
}

/// What the loop calls back: the session, without a closure or promise to allocate per ping.
private struct HeartbeatTimer: NIOScheduledCallbackHandler, Sendable {
    let session: EngineSession
    let deadline: NIODeadline

    func handleScheduledCallback(eventLoop: some EventLoop) {
        session.heartbeatDue(deadline)
    }
}
