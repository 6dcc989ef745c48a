/// A notification as it travels from the node that wrote it to the readers of its stream.
public struct StreamEvent: Sendable, Equatable {
    public var stream: StreamName
    public var notification: StreamNotification

    public init(stream: StreamName, notification: StreamNotification) {
        self.stream = stream
        self.notification = notification
    }
}

/// Carries events from the node that persisted them to every node's hub.
/// The in-process bus is the embedded default; Redis and PostgreSQL buses connect many nodes.
///
/// Events go on the bus only after they are committed, so a reader that hears of one can always
/// find it in the store; a lost bus message costs latency (readers catch up by cursor), never data.
public protocol FanOutBus: Sendable {
    func publish(_ events: [StreamEvent]) async
}

/// The single-node bus: hands every event straight to the local hub, in order.
public struct InProcessBus: FanOutBus {
    let sequencer: StreamSequencer

    public init(sequencer: StreamSequencer) {
        self.sequencer = sequencer
    }

    public func publish(_ events: [StreamEvent]) async {
        await sequencer.receive(events)
    }
}
