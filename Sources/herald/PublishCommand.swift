import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOFoundationCompat

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a notification to a user, several users or a channel; prints the answer (the seq).")

    @Option(help: "A user to notify.") var user: String?
    @Option(help: "Users to notify (repeatable).") var users: [String] = []
    @Option(help: "A channel to publish to.") var channel: String?
    @Option(help: "The notification's name.") var name: String
    @Option(help: "The payload, as JSON.") var data = "null"
    @Option(help: "replace (one per name) or append (an event).") var mode = "append"
    @OptionGroup var client: ClientOptions

    func validate() throws {
        let targets = [user != nil, !users.isEmpty, channel != nil].filter { $0 }.count
        guard targets == 1 else { throw ValidationError("Give exactly one of --user, --users or --channel.") }
        guard (try? JSONSerialization.jsonObject(with: Data(data.utf8), options: [.fragmentsAllowed])) != nil else {
            throw ValidationError("--data must be JSON (a string is \"quoted\").")
        }
    }

    func run() async throws {
        var body: [String: Any] = ["name": name, "mode": mode]
        body["data"] = try JSONSerialization.jsonObject(with: Data(data.utf8), options: [.fragmentsAllowed])
        if let user { body["user"] = user }
        if !users.isEmpty { body["users"] = users }
        if let channel { body["channel"] = channel }
        var request = client.request("/api/publish")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body, options: [.fragmentsAllowed])))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status.code == 201 else { throw ServerRefused(status: Int(response.status.code), body: text) }
        print(text)
    }
}
