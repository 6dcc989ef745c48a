import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// How the terminal clients reach a running Herald.
struct ClientOptions: ParsableArguments {
    @Option(help: "Herald's address (env: HERALD_URL).")
    var url = ProcessInfo.processInfo.environment["HERALD_URL"] ?? "http://127.0.0.1:8080"

    @Option(help: "A server API key or personal access token (env: HERALD_TOKEN).")
    var token = ProcessInfo.processInfo.environment["HERALD_TOKEN"] ?? ""

    func validate() throws {
        if token.isEmpty { throw ValidationError("Give --token (or set HERALD_TOKEN).") }
    }

    func request(_ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        return request
    }
}

struct ServerRefused: Error, CustomStringConvertible {
    var status: Int
    var body: String
    var description: String { "Herald answered \(status): \(body)" }
}
