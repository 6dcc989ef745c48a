import ArgumentParser
import Foundation
import HeraldBench

extension BenchTarget.Transport: ExpressibleByArgument {}

/// `herald bench`: N subscribers (spread over worker processes, since each process may hold only
/// so many sockets), M publishes, and the figures: connect time, deliveries/s, publish→receive
/// latency percentiles, losses, and what the server spent: memory per connection, CPU time per
/// connect and per delivery, write calls per delivery. The server's figures are per connection:
/// one subscriber is opened and closed before the first reading, so that what the server sets up
/// once is not divided among them, and the last reading is taken before the subscribers close.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Load-test any SSE or WebSocket server (Herald, Nchan, …).")

    @Option(help: "sse, ws or socketio (Socket.IO over WebSocket).") var transport: BenchTarget.Transport = .sse
    @Option(
        name: .customLong("subscribe-url"),
        help: "Where subscribers connect (http://…; for ws the same URL is upgraded). Repeatable: the connections are split evenly between the URLs (the nodes of a cluster).")
    var subscribeURLs: [String]
    @Option(name: .customLong("subscribe-header"), help: "A header for subscribers, 'Name: value' (repeatable).")
    var subscribeHeaders: [String] = []
    @Option(
        name: .customLong("ws-message"),
        help: "A text message each WebSocket subscriber sends once connected (repeatable, sent in order).")
    var wsMessages: [String] = []
    @Option(help: "Where publishes are POSTed.") var publishURL: String
    @Option(name: .customLong("publish-header"), help: "A header for publishes, 'Name: value' (repeatable).")
    var publishHeaders: [String] = []
    @Option(help: "The publish body; $TIME becomes the send time and must appear as \"t\":$TIME.")
    var publishBody = #"{"t":$TIME}"#
    @Option(help: "Subscriber connections.") var connections = 1000
    @Option(help: "Events to publish.") var events = 10
    @Option(help: "Publishes per second (0 = back to back).") var rate: Double = 10
    @Option(help: "Most connections per worker process (the machine caps open files per process).")
    var perProcess = 9000
    @Option(
        name: .customLong("server-pid"),
        help: "The server's process id, to measure its memory, CPU time and write calls (repeatable: the sum is taken).")
    var serverPids: [Int32] = []
    @Option(
        name: .customLong("reconnect-storm"),
        help: "After the run, drop every subscriber, publish this many events, and reconnect them all at once with their cursors (SSE's Last-Event-ID); 0: no storm.")
    var stormEvents = 0
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if subscribeURLs.isEmpty { throw ValidationError("Give at least one --subscribe-url.") }
        if stormEvents < 0 { throw ValidationError("--reconnect-storm takes a number of events from 0.") }
        if stormEvents > 0, transport != .sse { throw ValidationError("The reconnect storm resumes SSE readers by Last-Event-ID: use --transport sse.") }
        if stormEvents > 0, events == 0 { throw ValidationError("The reconnect storm needs --events of at least 1: a reader's cursor is the last event it read.") }
    }

    func run() async throws {
        let target = BenchTarget(
            transport: transport, subscribeURL: subscribeURLs[0], subscribeHeaders: subscribeHeaders,
            webSocketMessages: wsMessages, publishURL: publishURL, publishHeaders: publishHeaders,
            publishBody: publishBody)
        try await SubscriberPool(target: target).warmUp()
        let before = ServerSample(serverPids)
        // At least a process per URL, each worker subscribing through one of them.
        let processes = max(subscribeURLs.count, (connections + perProcess - 1) / perProcess)
        var workers: [Worker] = []
        for index in 0..<processes {
            let share = connections / processes + (index < connections % processes ? 1 : 0)
            var workerTarget = target
            workerTarget.subscribeURL = subscribeURLs[index % subscribeURLs.count]
            workers.append(try Worker(target: workerTarget, connections: share, events: events, storm: stormEvents))
        }
        for worker in workers { try await worker.waitUntilReady() }
        // Let the server settle before reading its memory.
        try await Task.sleep(for: .seconds(1))
        let connected = ServerSample(serverPids)
        let firstSend = try await BenchPublisher(target: target).run(count: events, rate: rate)
        var results: [SubscriberPool.Result] = []
        for worker in workers { results.append(try await worker.finish()) }
        let after = ServerSample(serverPids)
        if stormEvents == 0 { for worker in workers { try worker.send("CLOSE") } }
        var report = BenchReport(
            target: target, events: events, results: results, firstSend: firstSend,
            server: (before, connected, after))
        if stormEvents > 0 {
            for worker in workers { try await worker.command("DROP", expecting: "DROPPED") }
            _ = try await BenchPublisher(target: target).run(count: stormEvents, rate: 0)
            var storms: [SubscriberPool.StormResult] = []
            for worker in workers { try worker.send("RECONNECT") }
            for worker in workers {
                let line = try await worker.nextLine()
                guard line.hasPrefix("STORM ") else { throw BenchError("worker failed: \(line)") }
                storms.append(try JSONDecoder().decode(SubscriberPool.StormResult.self, from: Data(line.dropFirst(6).utf8)))
            }
            report.storm = BenchReport.Storm(missedEvents: stormEvents, results: storms)
        }
        for worker in workers { worker.waitUntilExit() }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
    }
}

/// One subscriber process, driven over its stdin and stdout.
private final class Worker: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var pending = Data()

    init(target: BenchTarget, connections: Int, events: Int, storm: Int) throws {
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let targetJSON = String(decoding: try JSONEncoder().encode(target), as: UTF8.self)
        process.arguments = [
            "bench-worker", "--target", targetJSON, "--connections", "\(connections)", "--events", "\(events)",
            "--storm", "\(storm)",
        ]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    func waitUntilReady() async throws {
        let line = try await nextLine()
        guard line == "READY" else { throw BenchError("worker failed to connect: \(line)") }
    }

    func finish() async throws -> SubscriberPool.Result {
        try send("DONE")
        let line = try await nextLine()
        guard line.hasPrefix("RESULT ") else { throw BenchError("worker failed: \(line)") }
        return try JSONDecoder().decode(SubscriberPool.Result.self, from: Data(line.dropFirst(7).utf8))
    }

    func waitUntilExit() {
        process.waitUntilExit()
    }

    func send(_ command: String) throws {
        try input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
    }

    func command(_ command: String, expecting answer: String) async throws {
        try send(command)
        let line = try await nextLine()
        guard line == answer else { throw BenchError("worker failed: \(line)") }
    }

    func nextLine() async throws -> String {
        let handle = output.fileHandleForReading
        return try await Task.detached { [self] in
            while true {
                if let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    return line
                }
                let chunk = handle.availableData
                if chunk.isEmpty { throw BenchError("worker exited") }
                pending.append(chunk)
            }
        }.value
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The subscriber side of `herald bench`, run in its own process by the coordinator.
struct BenchWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-worker", abstract: "Internal: one subscriber process of herald bench.",
        shouldDisplay: false)

    @Option var target: String
    @Option var connections: Int
    @Option var events: Int
    @Option var storm = 0

    func run() async throws {
        let target = try JSONDecoder().decode(BenchTarget.self, from: Data(self.target.utf8))
        let pool = SubscriberPool(target: target)
        let opened = try await pool.connect(count: connections)
        // The parent gives up on a worker that connected nothing; a worker whose parent is gone
        // meets a closed pipe, which throws here rather than trapping.
        if opened.count == 0 && connections > 0 {
            return try FileHandle.standardOutput.write(contentsOf: Data("FAILED all connections\n".utf8))
        }
        try FileHandle.standardOutput.write(contentsOf: Data("READY\n".utf8))
        _ = readLine()
        // Connections stay open until the coordinator has read the server's CPU time: closing
        // them costs the server too, and that is no part of delivering.
        let result = try await pool.collect(opened, expected: events)
        try report("RESULT", result)
        _ = readLine()
        guard storm > 0 else { return }
        let cursors = try await pool.drop(opened)
        try FileHandle.standardOutput.write(contentsOf: Data("DROPPED\n".utf8))
        _ = readLine()
        try report("STORM", try await pool.reconnect(cursors, missed: storm))
    }

    private func report(_ kind: String, _ value: some Encodable) throws {
        try FileHandle.standardOutput.write(
            contentsOf: Data((kind + " " + String(decoding: try JSONEncoder().encode(value), as: UTF8.self) + "\n").utf8))
    }
}
