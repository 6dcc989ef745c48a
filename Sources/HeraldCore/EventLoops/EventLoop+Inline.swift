import NIOCore

extension EventLoop {
    /// Runs `body` at once when called on this loop, and queues it there otherwise: for a callback
    /// that comes back on the loop when nothing had to wait, and from a task when something did.
    public func executeInline(_ body: @escaping @Sendable () -> Void) {
        if inEventLoop { body() } else { execute(body) }
    }
}
