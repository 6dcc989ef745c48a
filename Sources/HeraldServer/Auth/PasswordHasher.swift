import HummingbirdBcrypt
import NIOPosix

/// bcrypt, run on NIO's blocking thread pool: a hash takes tens of milliseconds of CPU, which
/// must not stall the event loops or Swift's cooperative threads.
struct PasswordHasher: Sendable {
    let cost: UInt8

    init(cost: Int) {
        self.cost = UInt8(clamping: cost)
    }

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, against hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// The rules a new password must follow, as a sentence, or nil when it is fine.
    static func problem(with password: String) -> String? {
        if password.count < 8 { return "A password has at least 8 characters." }
        // bcrypt ignores everything past 72 bytes; refuse rather than silently truncate.
        if password.utf8.count > 72 { return "A password has at most 72 bytes." }
        return nil
    }
}
