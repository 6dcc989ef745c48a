import Logging

/// Puts what a bus carries in order before the hub hands it on: an event that arrives ahead of
/// its stream's next seq (a writer overtook another, or the bus lost a message) is preceded by
/// what the store holds in between. With it, a lost or reordered bus message costs a store read,
/// never an event.
public struct StreamSequencer: Sendable {
    public let hub: StreamHub
    let store: any HeraldStore
    let logger: Logger
    /// The most a gap is filled with in one read; a longer one takes several.
    static let catchUpLimit = 1000

    public init(hub: StreamHub, store: any HeraldStore, logger: Logger = Logger(label: "herald.fanout")) {
        self.hub = hub
        self.store = store
        self.logger = logger
    }

    /// Hands each event to the hub, filling any gap before it from the store.
    public func receive(_ events: [StreamEvent]) async {
        for event in events {
            guard case .gap(let after) = hub.deliver(event) else { continue }
            // Unfilled (the store did not answer), the event waits too: delivering it would move
            // readers past the gap. They get both from the store when they reconnect, or here
            // with the next event that finds the gap.
            if await fill(event.stream, after: after) { hub.deliver(event, acceptingGap: true) }
        }
    }

    /// An event known only by where it is: read from the store, with anything this node missed
    /// before it.
    public func receive(reference stream: StreamName, seq: Int64) async {
        guard let position = hub.position(of: stream) else { return }
        if position < seq { await fill(stream, after: position) }
    }

    /// Delivers what every stream read here has had written since it was last handed an event,
    /// for when the bus may have lost messages (it was down, or this node was cut off from it).
    public func catchUp() async {
        for (stream, seq) in hub.positions() {
            await fill(stream, after: seq)
        }
    }

    /// Delivers what the store holds of `stream` after `seq`, all of it; false if the store did
    /// not answer (then nothing past what it did deliver is handed on).
    @discardableResult
    public func fill(_ stream: StreamName, after seq: Int64) async -> Bool {
        var cursor = seq
        do {
            while true {
                let missed = try await store.notifications(in: stream, after: .seq(cursor), limit: Self.catchUpLimit)
                for notification in missed {
                    hub.deliver(StreamEvent(stream: stream, notification: notification), acceptingGap: true)
                }
                guard missed.count == Self.catchUpLimit, let last = missed.last else { return true }
                cursor = last.seq
            }
        } catch {
            logger.warning("could not read \(stream) after \(cursor) to fill a gap: \(error)")
            return false
        }
    }
}
