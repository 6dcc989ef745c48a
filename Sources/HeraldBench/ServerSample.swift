import Foundation

/// What the server processes (`--server-pid`, summed) have used so far, read from /proc: resident
/// memory, CPU time (user + system) and write system calls. Two samples around a phase give what
/// that phase cost the server, beside the load generator's own view.
public struct ServerSample: Sendable {
    public var residentKilobytes: Int
    public var cpuSeconds: Double
    public var writeCalls: Int

    /// Nil when there are no processes, or one of them cannot be read.
    public init?(_ pids: [Int32]) {
        guard !pids.isEmpty else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        var resident = 0
        var ticks = 0
        var writes = 0
        for pid in pids {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let rss = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kilobytes = Int(rss.split(separator: " ", omittingEmptySubsequences: true)[1]),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let io = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8),
                let syscw = io.split(separator: "\n").first(where: { $0.hasPrefix("syscw:") }),
                let calls = Int(syscw.split(separator: " ", omittingEmptySubsequences: true)[1])
            else { return nil }
            // The command name (field 2) may hold spaces: fields are counted after its ')'.
            let fields = stat[stat.index(after: stat.lastIndex(of: ")") ?? stat.startIndex)...]
                .split(separator: " ", omittingEmptySubsequences: true)
            // utime and stime are fields 14 and 15, the 12th and 13th after the name.
            guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
            resident += kilobytes
            ticks += user + system
            writes += calls
        }
        residentKilobytes = resident
        cpuSeconds = Double(ticks) / ticksPerSecond
        writeCalls = writes
    }
}

/// The server's cost of one bench run: per connection while connecting, per delivery while
/// publishing (from the first publish until the last subscriber is done).
struct ServerCost: Sendable {
    var kilobytesPerConnection: Double
    var connectMicrosecondsPerConnection: Double
    var publishMicrosecondsPerDelivery: Double
    var writeCallsPerDelivery: Double

    /// Samples before the subscribers connect, once they are all connected, and after the last delivery.
    init?(before: ServerSample?, connected: ServerSample?, after: ServerSample?, connections: Int, deliveries: Int) {
        guard let before, let connected, let after else { return nil }
        let perConnection = Double(max(connections, 1))
        let perDelivery = Double(max(deliveries, 1))
        kilobytesPerConnection = Double(connected.residentKilobytes - before.residentKilobytes) / perConnection
        connectMicrosecondsPerConnection = (connected.cpuSeconds - before.cpuSeconds) * 1e6 / perConnection
        publishMicrosecondsPerDelivery = (after.cpuSeconds - connected.cpuSeconds) * 1e6 / perDelivery
        writeCallsPerDelivery = Double(after.writeCalls - connected.writeCalls) / perDelivery
    }
}
