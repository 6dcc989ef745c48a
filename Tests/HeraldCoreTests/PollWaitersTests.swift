import HeraldCore
import NIOCore
import NIOPosix
import Testing

@Suite struct PollWaitersTests {
    let loop = MultiThreadedEventLoopGroup.singleton.any()

    @Test func aDeliveryWakesOnlyReadersOfThatStreamThatAreBehind() async throws {
        let hub = PollWaiters()
        let behind = hub.register(on: .user(1), after: 4)
        let current = hub.register(on: .user(1), after: 5)
        let other = hub.register(on: .user(2), after: 0)
        async let wokeBehind = hub.wait(behind, timeout: .seconds(30), on: loop)
        while hub.registeredCount < 3 { try await Task.sleep(for: .milliseconds(1)) }
        hub.deliver(5, on: .user(1))
        #expect(await wokeBehind)
        #expect(hub.registeredCount == 2)
        hub.cancel(current)
        hub.cancel(other)
        #expect(hub.registeredCount == 0)
    }

    @Test func anAdvanceBetweenRegisterAndWaitIsNotMissed() async {
        let hub = PollWaiters()
        let ticket = hub.register(on: .channel("c"), after: 0)
        hub.deliver(1, on: .channel("c"))
        #expect(await hub.wait(ticket, timeout: .seconds(30), on: loop))
        #expect(hub.registeredCount == 0)
    }

    @Test func theDeadlineEndsTheWait() async {
        let hub = PollWaiters()
        let ticket = hub.register(on: .user(1), after: 0)
        #expect(await hub.wait(ticket, timeout: .milliseconds(20), on: loop) == false)
        #expect(hub.registeredCount == 0)
    }

    @Test func cancellingTheTaskEndsTheWait() async {
        let hub = PollWaiters()
        let ticket = hub.register(on: .user(1), after: 0)
        let waiter = Task { await hub.wait(ticket, timeout: .seconds(60), on: loop) }
        waiter.cancel()
        #expect(await waiter.value == false)
        #expect(hub.registeredCount == 0)
    }
}
