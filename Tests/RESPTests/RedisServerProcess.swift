import Foundation
import NIOCore
import NIOPosix

/// A throwaway `redis-server` on a free loopback port, for tests against the real thing.
/// `redis-server` must be on PATH (`scripts/install-test-deps` installs it): a missing server
/// fails the test, it never skips it.
final class RedisServerProcess: @unchecked Sendable {
    let port: Int
    let password: String?
    private var process: Process?

    init(password: String? = nil) throws {
        self.port = try Self.freePort()
        self.password = password
        try start()
    }

    deinit {
        stop()
    }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if let password { arguments += ["--requirepass", password] }
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try waitUntilAccepting()
    }

    func stop() {
        guard let process, process.isRunning else { return }
        // SIGKILL: a child of the test process may inherit a mask that blocks SIGTERM; and a
        // crash is the harder case for the client anyway.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Runs `redis-cli` against this server; its standard output.
    @discardableResult
    func cli(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-cli", "-p", String(port)] + (password.map { ["-a", $0, "--no-auth-warning"] } ?? []) + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func waitUntilAccepting() throws {
        for _ in 0..<200 {
            if (try? cli("PING")) == "PONG" { return }
            if process?.isRunning == false { break }
            Thread.sleep(forTimeInterval: 0.025)
        }
        throw RedisServerError.didNotStart(port)
    }

    private static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        return channel.localAddress!.port!
    }
}

enum RedisServerError: Error {
    case didNotStart(Int)
}
