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

    @Test func aStreamSubscribedAgainIsHeldAgainFromItsNewHold() {
        var gate = StreamGate()
        let announced = StreamGate.Announced()
        announced.add(lobby)
        gate.hold(lobby, announced: announced)
        _ = gate.open(lobby, at: 3)
        // Subscribed again (a second subscribe command): written as before until the new hold.
        announced.add(lobby)
        #expect(arrive(4, &gate, announced) == .write)
        gate.hold(lobby, announced: announced)
        #expect(arrive(5, &gate, announced) == .held)
        #expect(gate.open(lobby, at: 2).map(\.0.notification.seq) == [5])
    }
}
