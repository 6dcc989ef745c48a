import NIOCore
import Synchronization

/// The connections whose first request is still being read, before they are a held stream's or
/// Hummingbird's, and whether the server still takes requests. They belong to no task, so a
/// graceful shutdown finds them here: each is closed, and one whose head arrives after that is
/// neither served nor handed on.
final class PendingConnections: Sendable {
    private let state = Mutex<(open: Bool, channels: [ObjectIdentifier: any Channel])>((true, [:]))

    /// Counts `channel` in; false once the server is stopping (the caller closes it).
    func add(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard state.open else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    /// Counts `channel` out once its request is decided or it has closed; false once the server is
    /// stopping, when the request must not be served.
    @discardableResult
    func remove(_ channel: any Channel) -> Bool {
        state.withLock { state in
            state.channels[ObjectIdentifier(channel)] = nil
            return state.open
        }
    }

    /// Takes no more requests, and closes every connection still sending its first one.
    func closeAll() {
        let channels = state.withLock { state in
            state.open = false
            defer { state.channels = [:] }
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
