import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Tails a user's stream (and channels) over SSE, one JSON line per event on stdout. Reconnects
/// with Last-Event-ID after a drop, so nothing is missed or printed twice.
struct SubscribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscribe", abstract: "Tail your notifications (and channels), one JSON line per event.")

    @Option(help: "A channel to follow as well (repeatable).") var channel: [String] = []
    @Option(help: "Resume after this cursor (an SSE id printed earlier).") var since: String?
    @Option(help: "Stop after this many events (0 = never).") var count = 0
    @OptionGroup var client: ClientOptions

    func run() async throws {
        var cursor = since
        var printed = 0
        var failures = 0
        while true {
            do {
                try await follow(cursor: &cursor, printed: &printed)
                if count > 0, printed >= count { return }
                failures = 0
            } catch let refused as ServerRefused where refused.status < 500 {
                throw refused
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("herald subscribe: \(error); reconnecting\n".utf8))
            }
            try await Task.sleep(for: .milliseconds(min(30_000, 250 << min(failures, 7))))
        }
    }

    private func follow(cursor: inout String?, printed: inout Int) async throws {
        let query = channel.map { "channel=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" }
        var request = client.request("/api/events" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        if let cursor { request.headers.add(name: "Last-Event-ID", value: cursor) }
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await HTTPClient.shared.execute(request, timeout: .hours(24 * 365))
        guard response.status.code == 200 else {
            let text = String(buffer: try await response.body.collect(upTo: 1 << 16))
            throw ServerRefused(status: Int(response.status.code), body: text)
        }
        var parser = SSEParser()
        for try await chunk in response.body {
            for event in parser.feed(String(buffer: chunk)) {
                if let id = event.id { cursor = id }
                var line = #"{"event":"# + quoted(event.name) + #","data":"# + event.data
                if let id = event.id { line += #","id":"# + quoted(id) }
                print(line + "}")
                printed += 1
                if count > 0, printed >= count { return }
            }
        }
    }

    private func quoted(_ text: String) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])) ?? Data(), as: UTF8.self)
    }
}

/// The SSE line format, just enough for Herald's events: `id`, `event`, `data` and comments.
struct SSEParser {
    struct Event {
        var id: String?
        var name = "message"
        var data = ""
    }

    private var buffer = ""
    private var current = Event()
    private var hasData = false

    mutating func feed(_ text: String) -> [Event] {
        buffer += text
        var events: [Event] = []
        while let newline = buffer.firstIndex(where: { $0 == "\n" || $0 == "\r\n" }) {
            let line = String(buffer[..<newline])
            buffer.removeSubrange(...newline)
            if line.isEmpty {
                if hasData { events.append(current) }
                current = Event()
                hasData = false
            } else if !line.hasPrefix(":") {
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                var value = parts.count > 1 ? String(parts[1]) : ""
                if value.hasPrefix(" ") { value.removeFirst() }
                switch parts[0] {
                case "id": current.id = value
                case "event": current.name = value
                case "data":
                    current.data += hasData ? "\n" + value : value
                    hasData = true
                default: break
                }
            }
        }
        return events
    }
}
