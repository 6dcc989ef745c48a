/// The rules a username must follow: 3–32 characters from `[A-Za-z0-9_.-]`.
public enum Username {
    public static let allowedLength = 3...32

    /// Returns a sentence explaining what is wrong with `candidate`, or nil when it is acceptable.
    public static func problem(with candidate: String) -> String? {
        guard allowedLength.contains(candidate.count) else {
            return "A username has \(allowedLength.lowerBound) to \(allowedLength.upperBound) characters."
        }
        guard NameCharacters.only(candidate, punctuation: ["_", ".", "-"]) else {
            return "A username may contain only letters A–Z, digits, '_', '.' and '-'."
        }
        return nil
    }
}
