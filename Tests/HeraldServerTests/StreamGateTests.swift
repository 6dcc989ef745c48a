import HeraldCore
import NIOCore
import Testing

@testable import HeraldServer

/// The seam between a stream's history and its live events, for subscribers whose streams come
/// and go (`/ws`, Socket.IO).
@Suite struct StreamGateTests {
    private let lobby = StreamName.channel("lobby")

    private func event(_ seq: Int64, on stream: StreamName) -> StreamEvent {
        StreamEvent(stream: stream, notification: StreamNotification(id: seq, name: "e", json: "\(seq)", timestamp: 0, seq: seq, mode: .append))
    }

    private func arrive(_ seq: Int64, _ gate: inout StreamGate, _ announced: StreamGate.Announced) -> StreamGate.Arrival {
        gate.arrive(event(seq, on: lobby), frame: ByteBuffer(), announced: announced)
    }

    @Test func eventsOfAStreamHeldWhileItReplaysAreHandedBackPastTheCursor() {
        var gate = StreamGate()
        let announced = StreamGate.Announced()
        announced.add(lobby)
        gate.hold(lobby, announced: announced)
        #expect(arrive(4, &gate, announced) == .held)
        #expect(arrive(5, &gate, announced) == .held)
        let held = gate.open(lobby, at: 4)
        #expect(held.map(\.0.notification.seq) == [4, 5])
        #expect(held.filter { gate.isNew($0.0) }.map(\.0.notification.seq) == [5])
    }

    /// The hub may hand the loop a stream's event before the stream's hold gets there.
    @Test func anEventOfAnAnnouncedStreamThatComesBeforeItsHoldIsHeldNotSkipped() {
        var gate = StreamGate()
        let announced = StreamGate.Announced()
        announced.add(lobby)
        #expect(arrive(7, &gate, announced) == .held)
        gate.hold(lobby, announced: announced)
        #expect(arrive(8, &gate, announced) == .held)
        #expect(gate.open(lobby, at: 6).map(\.0.notification.seq) == [7, 8])
        #expect(arrive(9, &gate, announced) == .write)
    }

    @Test func anEventOfAStreamNotReadIsSkipped() {
        var gate = StreamGate()
        let announced = StreamGate.Announced()
        #expect(arrive(1, &gate, announced) == .skip)
        // Nor once it was read and let go.
        announced.add(lobby)
        gate.hold(lobby, announced: announced)
        _ = gate.open(lobby, at: 0)
        #expect(arrive(1, &gate, announced) == .write)
        gate.close(lobby)
        #expect(arrive(2, &gate, announced) == .skip)
    }

    /// Subscribed again (a second subscribe command, from an earlier cursor): an event that comes
    /// between the announcement and the new hold is held for the new subscription, not written by
    /// the old one's cursor and then replayed again.
    @Test func aStreamSubscribedAgainIsHeldFromItsAnnouncement() {
        var gate = StreamGate()
        let announced = StreamGate.Announced()
        announced.add(lobby)
        gate.hold(lobby, announced: announced)
        _ = gate.open(lobby, at: 3)
        #expect(arrive(4, &gate, announced) == .write)
        gate.advance(event(4, on: lobby))
        announced.add(lobby)
        #expect(arrive(5, &gate, announced) == .held)
        gate.hold(lobby, announced: announced)
        #expect(arrive(6, &gate, announced) == .held)
        let held = gate.open(lobby, at: 5)
        #expect(held.map(\.0.notification.seq) == [5, 6])
        #expect(held.filter { gate.isNew($0.0) }.map(\.0.notification.seq) == [6])
        #expect(arrive(7, &gate, announced) == .write)
    }

    /// Subscribed again while the subscription before still replays: what that one held is left
    /// to the new replay, and what comes after the announcement is kept for the new one.
    @Test func aStreamSubscribedAgainWhileItReplaysKeepsWhatComesAfterTheAnnouncement() {
        var gate = StreamGate()
        let announced = StreamGate.Announced()
        announced.add(lobby)
        gate.hold(lobby, announced: announced)
        #expect(arrive(3, &gate, announced) == .held)
        announced.add(lobby)
        #expect(arrive(4, &gate, announced) == .held)
        gate.hold(lobby, announced: announced)
        #expect(arrive(5, &gate, announced) == .held)
        #expect(gate.open(lobby, at: 2).map(\.0.notification.seq) == [4, 5])
    }

    /// A stream let go of before its hold arrived starts afresh at that hold.
    @Test func aStreamClosedBeforeItsHoldIsHeldFromTheHold() {
        var gate = StreamGate()
        let announced = StreamGate.Announced()
        announced.add(lobby)
        #expect(arrive(3, &gate, announced) == .held)
        gate.close(lobby)
        gate.hold(lobby, announced: announced)
        #expect(arrive(4, &gate, announced) == .held)
        #expect(gate.open(lobby, at: 2).map(\.0.notification.seq) == [4])
    }
}
