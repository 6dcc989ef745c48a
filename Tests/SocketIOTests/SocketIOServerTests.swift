import EngineIO
import NIOCore
import Synchronization
import Testing

@testable import SocketIO

private struct Boom: Error {}

/// Thread-safe storage a test's handlers write into.
private final class Box<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
    func set(_ new: Value) { value.withLock { $0 = new } }
    func update(_ body: (inout Value) -> Void) { value.withLock { body(&$0) } }
    var get: Value { value.withLock { $0 } }
}

    struct Greeter: SocketIONamespaceHandler {
        func handler(for event: String) -> SocketIOEventHandler? {
            switch event {
            case "hello": hello
            case "bye": { _, _ in ["method"] }
            default: nil
            }
        }
        func hello(_ socket: SocketIOSocket, _ arguments: [JSONValue]) async throws -> [JSONValue] {
            [.string("hello, " + (arguments.first?.stringValue ?? "?"))]
        }
    }

@Suite struct SocketIOServerTests {
    @Test func eventsAreHandledAndTheirResultIsTheAck() async throws {
        let io = SocketIOServer()
        io.of("/chat").on("add") { _, arguments in
            [.number(arguments.compactMap(\.doubleValue).reduce(0, +))]
        }
        let client = try await SocketIOTestClient(io)
        _ = try await client.connect("/chat")
        await client.send(#"2/chat,7["add",1,2,3]"#)
        #expect(await client.receive() == ["3/chat,7[6]"])
    }

    @Test func connectHandlersMayRefuseAndTheirEmitsFollowTheReply() async throws {
        let io = SocketIOServer()
        io.main.onConnect { socket, auth in
            guard auth?["token"] == "good" else { throw SocketIOConnectionRefused("Not authorized", data: ["code": 401]) }
            socket.emit("welcome", "a", 2)
        }
        let client = try await SocketIOTestClient(io)
        await client.send(#"0{"token":"bad"}"#)
        #expect(await client.receive() == [#"4{"message":"Not authorized","data":{"code":401}}"#])
        await client.send(#"0{"token":"good"}"#)
        let packets = await client.receive(count: 2)
        #expect(packets[0].hasPrefix(#"0{"sid":"#))
        #expect(packets[1] == #"2["welcome","a",2]"#)
    }

    @Test func anUnknownNamespaceIsRefused() async throws {
        let client = try await SocketIOTestClient(SocketIOServer())
        await client.send("0/random,")
        #expect(await client.receive() == [#"4/random,{"message":"Invalid namespace"}"#])
    }

    @Test func roomsBroadcastsAndAllButTheSender() async throws {
        let io = SocketIOServer()
        let chat = io.of("/chat")
        chat.on("join") { socket, arguments in
            socket.join(arguments[0].stringValue!)
            return []
        }
        chat.on("say") { socket, arguments in
            socket.to(arguments[0].stringValue!).emit("said", arguments[1])
            return []
        }
        let alice = try await SocketIOTestClient(io)
        let bob = try await SocketIOTestClient(io)
        let carol = try await SocketIOTestClient(io)
        let aliceID = try await alice.connect("/chat")
        _ = try await bob.connect("/chat")
        _ = try await carol.connect("/chat")
        for client in [alice, bob] { await client.send(#"2/chat,1["join","room1"]"#) }
        #expect(await alice.receive() == ["3/chat,1[]"])
        #expect(await bob.receive() == ["3/chat,1[]"])
        #expect(chat.sids(in: "room1").count == 2)
        #expect(chat.sids(in: aliceID) == [aliceID])
        await alice.send(#"2/chat,["say","room1","hi"]"#)
        #expect(await bob.receive() == [#"2/chat,["said","hi"]"#])
        chat.to("room1").emit("from-outside", 1)
        #expect(await alice.receive() == [#"2/chat,["from-outside",1]"#])
        #expect(await bob.receive() == [#"2/chat,["from-outside",1]"#])
        chat.emit("everyone")
        #expect(await carol.receive() == [#"2/chat,["everyone"]"#])
    }

    /// As Flask-SocketIO's `join_room` in a connect handler: the room holds the socket from its
    /// CONNECT reply on; a refused socket is in no room; a socket is in its own room until it
    /// leaves it; a disconnected one is in none.
    @Test func connectHandlersJoinRoomsAndEveryRoomForgetsALeavingSocket() async throws {
        let io = SocketIOServer()
        let chat = io.of("/chat")
        chat.onConnect { socket, auth in
            socket.join("lobby")
            if auth?["refuse"] != nil { throw SocketIOConnectionRefused("no") }
        }
        chat.on("leave-own") { socket, _ in
            socket.leave(socket.id)
            return [.array(socket.rooms.sorted().map(JSONValue.string))]
        }
        let refused = try await SocketIOTestClient(io)
        await refused.send(#"0/chat,{"refuse":1}"#)
        #expect(await refused.receive() == [#"4/chat,{"message":"no"}"#])
        #expect(chat.sids(in: "lobby").isEmpty)

        let alice = try await SocketIOTestClient(io)
        let aliceID = try await alice.connect("/chat")
        #expect(chat.sids(in: "lobby") == [aliceID])
        #expect(chat.sids(in: aliceID) == [aliceID])
        #expect(chat.socket(id: aliceID)?.rooms == ["lobby", aliceID])
        chat.to(aliceID).emit("just-you")
        #expect(await alice.receive() == [#"2/chat,["just-you"]"#])

        await alice.send(#"2/chat,1["leave-own"]"#)
        #expect(await alice.receive() == [#"3/chat,1[["lobby"]]"#])
        #expect(chat.sids(in: aliceID).isEmpty)

        await alice.send("1/chat,")
        while !chat.sids(in: "lobby").isEmpty { try await Task.sleep(for: .milliseconds(2)) }
        #expect(chat.socket(id: aliceID) == nil)
    }

    @Test func serverEmitsWaitForTheClientsAck() async throws {
        let io = SocketIOServer()
        let answer = Box<[JSONValue]?>(nil)
        io.main.onConnect { socket, _ in
            socket.whenConnected {
                Task {
                    let reply = try await socket.emitWithAck("question", "life", timeout: .seconds(5))
                    answer.set(reply)
                }
            }
        }
        let client = try await SocketIOTestClient(io)
        _ = try await client.connect()
        #expect(await client.receive() == [#"20["question","life"]"#])
        await client.send("30[42]")
        for _ in 0..<100 where answer.get == nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(answer.get == [42])
    }

    @Test func anAckThatNeverComesTimesOut() async throws {
        let io = SocketIOServer()
        let outcome = Box<String?>(nil)
        io.main.on("ask") { socket, _ in
            do {
                _ = try await socket.emitWithAck("q", timeout: .milliseconds(50))
                outcome.set("answered")
            } catch is SocketIOAckTimeout {
                outcome.set("timed out")
            }
            return []
        }
        let client = try await SocketIOTestClient(io)
        _ = try await client.connect()
        await client.send(#"2["ask"]"#)
        _ = await client.receive()
        for _ in 0..<100 where outcome.get == nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(outcome.get == "timed out")
    }

    @Test func errorHandlersSeeTheEventAndItsArguments() async throws {
        let io = SocketIOServer()
        let seen = Box<String?>(nil)
        io.main.on("explode") { _, _ in throw Boom() }
        io.onError { error, _, event, arguments in
            seen.set("\(event) \(arguments) \(error is Boom)")
            return ["sorry"]
        }
        let client = try await SocketIOTestClient(io)
        _ = try await client.connect()
        await client.send(#"23["explode",1]"#)
        #expect(await client.receive() == [#"33["sorry"]"#])
        #expect(seen.get == "explode [1] true")
        io.main.onError { _, _, _, _ in ["namespace's own"] }
        await client.send(#"24["explode"]"#)
        #expect(await client.receive() == [#"34["namespace's own"]"#])
    }

    @Test func aNamespaceTypesMethodsHandleItsEventsAndFunctionsWin() async throws {
        let io = SocketIOServer()
        io.of("/g").register(Greeter())
        io.of("/g").on("bye") { _, _ in ["function"] }
        let client = try await SocketIOTestClient(io)
        _ = try await client.connect("/g")
        await client.send(#"2/g,1["hello","ann"]"#, #"2/g,2["bye"]"#, #"2/g,3["unknown"]"#)
        #expect(await client.receive(count: 2) == [#"3/g,1["hello, ann"]"#, #"3/g,2["function"]"#])
    }

    @Test func disconnectingOneNamespaceKeepsTheOthers() async throws {
        let io = SocketIOServer()
        let left = Box<[String]>([])
        for name in ["/a", "/b"] {
            io.of(name).on("echo") { _, arguments in arguments }
            io.of(name).onDisconnect { socket, reason in left.update { $0.append("\(socket.namespace.name) \(reason.rawValue)") } }
        }
        let client = try await SocketIOTestClient(io)
        _ = try await client.connect("/a")
        _ = try await client.connect("/b")
        await client.send("1/a,", #"2/a,1["echo",1]"#, #"2/b,2["echo",2]"#)
        #expect(await client.receive() == ["3/b,2[2]"])
        #expect(left.get == ["/a client namespace disconnect"])
        #expect(io.of("/a").sockets.isEmpty && io.of("/b").sockets.count == 1)
    }

    @Test func binaryArgumentsTravelAsAttachmentsBothWays() async throws {
        let io = SocketIOServer()
        io.main.on("echo") { _, arguments in arguments }
        let client = try await SocketIOTestClient(io)
        _ = try await client.connect()
        // AQID is [1, 2, 3] in base64: the attachment rides the polling payload as `b…`.
        await client.sendPayload("451-9[\"echo\",{\"_placeholder\":true,\"num\":0}]\u{1e}bAQID")
        #expect(await client.receive() == [#"61-9[{"_placeholder":true,"num":0}]"#, "<b:AQID>"])
    }

    @Test func malformedPacketsCloseOnlyTheirConnection() async throws {
        let io = SocketIOServer()
        io.main.on("echo") { _, arguments in arguments }
        let good = try await SocketIOTestClient(io)
        _ = try await good.connect()
        for garbage in ["abc", "2{}", #"2abc["echo"]"#, #"5x-["a"]"#, String(repeating: "[", count: 10_000)] {
            let bad = try await SocketIOTestClient(io)
            _ = try await bad.connect()
            await bad.send(garbage)
            // The session is gone at once: its next poll finds no such sid.
            #expect(await bad.receive() == [#"engine:{"code":1,"message":"Session ID unknown"}"#], "\(garbage.prefix(20))")
        }
        await good.send(#"21["echo","still here"]"#)
        #expect(await good.receive() == [#"31["still here"]"#])
    }
}
