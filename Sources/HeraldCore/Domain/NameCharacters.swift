/// The character rule shared by usernames, channel names and notification names: ASCII letters,
/// digits and a few punctuation marks, so a name is safe in URLs, SSE lines, cursors and Redis
/// channel names without escaping.
public enum NameCharacters {
    /// True when every scalar of `text` is an ASCII letter, a digit, or one of `punctuation`.
    public static func only(_ text: String, punctuation: Set<Unicode.Scalar>) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9": true
            default: punctuation.contains(scalar)
            }
        }
    }
}
