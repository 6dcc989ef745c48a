/// The rules a new password must follow, the same for the register form and `herald users add`.
public enum Password {
    /// A sentence explaining what is wrong with `candidate`, or nil when it is acceptable.
    public static func problem(with candidate: String) -> String? {
        if candidate.count < 8 { return "A password has at least 8 characters." }
        // bcrypt ignores everything past 72 bytes; refuse rather than silently truncate.
        if candidate.utf8.count > 72 { return "A password has at most 72 bytes." }
        return nil
    }
}
