import NIOCore
import Synchronization
import Testing

@testable import SocketIO

/// Joins servers as a cluster bus would, recording what crossed.
private final class LoopbackAdapter: SocketIOAdapter {
    let others = Mutex<[SocketIOServer]>([])
    let published = Mutex<[SocketIORemoteBroadcast]>([])

    func publish(_ broadcast: SocketIORemoteBroadcast) {
        published.withLock { $0.append(broadcast) }
        for server in others.withLock({ $0 }) { server.deliver(broadcast) }
    }
}

/// Broadcasts across servers through an adapter: rooms, all-but-one and sids reach sockets of
/// every server, once; what a server only delivers does not travel again.
@Suite struct SocketIOAdapterTests {
    @Test func broadcastsReachTheRoomsOfEveryServerOnce() async throws {
        let (a, b) = (SocketIOServer(), SocketIOServer())
        let (fromA, fromB) = (LoopbackAdapter(), LoopbackAdapter())
        fromA.others.withLock { $0 = [b] }
        fromB.others.withLock { $0 = [a] }
        a.adapter = fromA
        b.adapter = fromB
        for server in [a, b] {
            server.of("/chat").on("join") { socket, arguments in
                socket.join(arguments[0].stringValue!)
                return []
            }
            server.of("/chat").on("say") { socket, arguments in
                socket.to(arguments[0].stringValue!).emit("said", arguments[1])
                return []
            }
        }
        let alice = try await SocketIOTestClient(a)
        let bob = try await SocketIOTestClient(b)
        let carol = try await SocketIOTestClient(b)
        _ = try await alice.connect("/chat")
        let bobID = try await bob.connect("/chat")
        _ = try await carol.connect("/chat")
        for client in [alice, bob] {
            await client.send(#"2/chat,1["join","room1"]"#)
            #expect(await client.receive() == ["3/chat,1[]"])
        }

        await alice.send(#"2/chat,["say","room1","hi"]"#)
        #expect(await bob.receive() == [#"2/chat,["said","hi"]"#])
        a.of("/chat").emit("everyone", 1)
        #expect(await bob.receive() == [#"2/chat,["everyone",1]"#])
        #expect(await carol.receive() == [#"2/chat,["everyone",1]"#])
        #expect(await alice.receive() == [#"2/chat,["everyone",1]"#])
        // To one socket by its sid, from the other server; and all but that one.
        a.of("/chat").to(bobID).emit("just-you")
        #expect(await bob.receive() == [#"2/chat,["just-you"]"#])
        a.of("/chat").except(bobID).emit("not-you")
        #expect(await carol.receive() == [#"2/chat,["not-you"]"#])
        #expect(await alice.receive() == [#"2/chat,["not-you"]"#])
        b.of("/chat").emit("last")
        #expect(await bob.receive() == [#"2/chat,["last"]"#])  // nothing in between: each arrived once
        // Each broadcast crossed once: delivering one does not publish it again.
        #expect(fromA.published.withLock { $0.count } == 4)
        #expect(fromB.published.withLock { $0.map(\.event) } == ["last"])
    }

    @Test func binaryBroadcastsStayOnTheirServer() async throws {
        let server = SocketIOServer()
        let adapter = LoopbackAdapter()
        server.adapter = adapter
        server.of("/chat").emit("file", .binary(.init(bytes: [1, 2])))
        server.of("/chat").emit("text", "t")
        #expect(adapter.published.withLock { $0.map(\.event) } == ["text"])
    }
}
