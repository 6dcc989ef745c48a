import Logging

/// Puts what a bus carries in order before the hub hands it on: an event that arrives ahead of
/// its stream's next seq (a writer overtook another, or the bus lost a message) is preceded by
/// what the store holds in between. With it, a lost or reordered bus message costs a store read,
/// never an event.
public struct StreamSequencer: Sendable {
    public let hub: StreamHub
    let store: any HeraldStore
    let logger: Logger
    /// The most a gap is filled with in one read; a longer one continues with the next event.
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
            await fill(event.stream, after: after)
            hub.deliver(event, acceptingGap: true)
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

    private func fill(_ stream: StreamName, after seq: Int64) async {
        do {
            let missed = try await store.notifications(in: stream, after: .seq(seq), limit: Self.catchUpLimit)
            for notification in missed {
                hub.deliver(StreamEvent(stream: stream, notification: notification), acceptingGap: true)
            }
        } catch {
            // Readers then miss these live, and get them from the store when they reconnect.
            logger.warning("could not read \(stream) after \(seq) to fill a gap: \(error)")
        }
    }
}
