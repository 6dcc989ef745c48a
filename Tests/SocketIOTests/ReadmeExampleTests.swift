import Testing

@testable import SocketIO

/// The README's example, as written there, so it keeps compiling and doing what it says.
@Suite struct ReadmeExampleTests {
    struct Admin: SocketIONamespaceHandler {
        func handler(for event: String) -> SocketIOEventHandler? { event == "stats" ? stats : nil }
        func stats(_ socket: SocketIOSocket, _ args: [JSONValue]) async throws -> [JSONValue] { [["sockets": 1]] }
    }

    static func example() -> SocketIOServer {
        let io = SocketIOServer()
        let chat = io.of("/chat")
        chat.onConnect { socket, auth in
            guard auth?["token"] == "secret" else { throw SocketIOConnectionRefused("Not authorized", data: ["code": 401]) }
            socket.emit("welcome", "you are in", 1)
        }
        chat.on("join") { socket, args in
            let room = args.first?.stringValue ?? "lobby"
            socket.join(room)
            socket.to(room).emit("status", ["msg": "someone has entered the room."])
            return [.string(room)]
        }
        chat.on("ask") { socket, _ in
            let answer = try await socket.emitWithAck("question", "ready?", timeout: .seconds(5))
            return answer
        }
        chat.onDisconnect { socket, reason in print(socket.id, reason) }
        chat.onError { error, socket, event, args in ["error in \(event)"] }
        io.of("/admin").register(Admin())
        return io
    }

    @Test func theExampleDoesWhatTheReadmeSays() async throws {
        let io = Self.example()
        let client = try await SocketIOTestClient(io)
        await client.send(#"0/chat,{"token":"wrong"}"#)
        #expect(await client.receive() == [#"4/chat,{"message":"Not authorized","data":{"code":401}}"#])
        await client.send(#"0/chat,{"token":"secret"}"#)
        let connected = await client.receive(count: 2)
        #expect(connected[0].hasPrefix(#"0/chat,{"sid":"#))
        #expect(connected[1] == #"2/chat,["welcome","you are in",1]"#)
        await client.send(#"2/chat,1["join","lobby"]"#)
        #expect(await client.receive() == [#"3/chat,1["lobby"]"#])
        _ = try await client.connect("/admin")
        await client.send(#"2/admin,2["stats"]"#)
        #expect(await client.receive() == [#"3/admin,2[{"sockets":1}]"#])
    }
}
