import HeraldCore
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A subscriber that records what the hub hands it.
final class RecordingSubscriber: StreamSubscriber {
    let eventLoop: any EventLoop
    let encoding = EventEncoding(id: "test") { event in ByteBuffer(string: "seq \(event.notification.seq)") }
    let received = Mutex<[(StreamName, Int64, String)]>([])
    let flushes = Mutex(0)

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func deliver(_ event: StreamEvent, frame: ByteBuffer) {
        eventLoop.assertInEventLoop()
        received.withLock { $0.append((event.stream, event.notification.seq, String(buffer: frame))) }
    }

    func flush() { flushes.withLock { $0 += 1 } }
    func heartbeat() {}
    func shutdown() {}
}

@Suite struct StreamHubTests {
    let group = MultiThreadedEventLoopGroup.singleton

    func event(_ stream: StreamName, _ seq: Int64) -> StreamEvent {
        StreamEvent(
            stream: stream,
            notification: StreamNotification(id: seq, name: "e", json: "null", timestamp: 0, seq: seq, mode: .append))
    }

    @Test func deliversEachStreamsEventsInOrderOnTheSubscribersLoopAndFlushes() async throws {
        let hub = StreamHub()
        let both = RecordingSubscriber(eventLoop: group.next())
        let lobbyOnly = RecordingSubscriber(eventLoop: group.next())
        hub.subscribe(both, to: [.user(1), .channel("lobby")])
        hub.subscribe(lobbyOnly, to: [.channel("lobby")])
        #expect(hub.subscriberCount == 2)
        for seq in 1...50 {
            hub.deliver(event(.channel("lobby"), Int64(seq)))
            hub.deliver(event(.user(1), Int64(seq)))
            hub.deliver(event(.user(2), Int64(seq)))
        }
        while both.received.withLock({ $0.count }) < 100 || lobbyOnly.received.withLock({ $0.count }) < 50 {
            try await Task.sleep(for: .milliseconds(2))
        }
        let lobby = lobbyOnly.received.withLock { $0 }
        #expect(lobby.map(\.1) == Array(1...50))
        #expect(lobby.allSatisfy { $0.0 == .channel("lobby") && $0.2 == "seq \($0.1)" })
        let mine = both.received.withLock { $0 }
        #expect(mine.filter { $0.0 == .user(1) }.map(\.1) == Array(1...50))
        #expect(both.flushes.withLock { $0 } >= 1)

        hub.unsubscribe(both, from: [.channel("lobby")])
        #expect(hub.subscriberCount == 2)
        hub.unsubscribeAll(both)
        hub.unsubscribeAll(lobbyOnly)
        #expect(hub.subscriberCount == 0)
    }
}
