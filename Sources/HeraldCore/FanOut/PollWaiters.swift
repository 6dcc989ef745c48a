import NIOCore
import Synchronization

/// Long-poll readers waiting for a stream to move past their cursor.
///
/// A waiter is a continuation in a dictionary plus a timer on an event loop: it holds no thread and
/// no task of its own, and nothing polls the database while it waits.
///
/// Waiting happens in two steps so that nothing falls between reading the store and waiting:
/// `register` first, then read the store, then `wait` (or `cancel` when the read found something).
/// A delivery after `register` but before `wait` is remembered, and `wait` returns at once.
public final class PollWaiters: Sendable {
    /// A reader's place in the hub, from `register` until `wait` returns or `cancel`.
    public struct Ticket: Sendable {
        fileprivate let id: UInt64
        fileprivate let stream: StreamName
    }

    private enum Slot {
        case armed(after: Int64)
        case waiting(after: Int64, CheckedContinuation<Bool, Never>, deadline: Scheduled<Void>?)
        case fired
    }

    private struct State {
        var nextID: UInt64 = 0
        var slots: [StreamName: [UInt64: Slot]] = [:]

        mutating func remove(_ ticket: Ticket) -> Slot? {
            let slot = slots[ticket.stream]?.removeValue(forKey: ticket.id)
            if slots[ticket.stream]?.isEmpty == true { slots[ticket.stream] = nil }
            return slot
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// The number of registered readers, for metrics and tests.
    public var registeredCount: Int {
        state.withLock { $0.slots.values.reduce(0) { $0 + $1.count } }
    }

    /// Starts watching `stream` for a seq greater than `after`.
    public func register(on stream: StreamName, after: Int64) -> Ticket {
        state.withLock { state in
            state.nextID += 1
            let ticket = Ticket(id: state.nextID, stream: stream)
            state.slots[stream, default: [:]][ticket.id] = .armed(after: after)
            return ticket
        }
    }

    /// Gives up a ticket; a pending `wait` on it returns false.
    public func cancel(_ ticket: Ticket) {
        finish(ticket, woken: false)
    }

    /// Suspends until the ticket's stream moves past its cursor (true), or until `timeout`
    /// passes or the task is cancelled (false). Each ticket is waited on once.
    public func wait(_ ticket: Ticket, timeout: TimeAmount, on eventLoop: any EventLoop) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let outcome = state.withLock { state -> Bool? in
                    switch state.slots[ticket.stream]?[ticket.id] {
                    case .armed(let after):
                        state.slots[ticket.stream]?[ticket.id] = .waiting(after: after, continuation, deadline: nil)
                        return nil
                    case .fired:
                        _ = state.remove(ticket)
                        return true
                    case .waiting, nil:
                        return false
                    }
                }
                if let outcome { return continuation.resume(returning: outcome) }
                let deadline = eventLoop.scheduleTask(in: timeout) { self.finish(ticket, woken: false) }
                let stillWaiting = state.withLock { state -> Bool in
                    guard case .waiting(let after, let continuation, nil) = state.slots[ticket.stream]?[ticket.id]
                    else { return false }
                    state.slots[ticket.stream]?[ticket.id] = .waiting(after: after, continuation, deadline: deadline)
                    return true
                }
                if !stillWaiting { deadline.cancel() }
            }
        } onCancel: {
            finish(ticket, woken: false)
        }
    }

    /// Wakes every reader of `stream` whose cursor is behind `seq`.
    public func deliver(_ seq: Int64, on stream: StreamName) {
        let woken = state.withLock { state -> [(CheckedContinuation<Bool, Never>, Scheduled<Void>?)] in
            guard var slots = state.slots[stream] else { return [] }
            var woken: [(CheckedContinuation<Bool, Never>, Scheduled<Void>?)] = []
            for (id, slot) in slots {
                switch slot {
                case .armed(let after) where after < seq:
                    slots[id] = .fired
                case .waiting(let after, let continuation, let deadline) where after < seq:
                    slots[id] = nil
                    woken.append((continuation, deadline))
                default:
                    break
                }
            }
            state.slots[stream] = slots.isEmpty ? nil : slots
            return woken
        }
        for (continuation, deadline) in woken {
            deadline?.cancel()
            continuation.resume(returning: true)
        }
    }

    private func finish(_ ticket: Ticket, woken: Bool) {
        let slot = state.withLock { $0.remove(ticket) }
        if case .waiting(_, let continuation, let deadline) = slot {
            deadline?.cancel()
            continuation.resume(returning: woken)
        }
    }
}
