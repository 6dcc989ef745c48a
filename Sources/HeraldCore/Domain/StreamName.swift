/// The name of an event stream: a user's notifications or a channel.
///
/// Every stream has its own cursor (`seq`), so the name is also the key of that cursor in storage.
public enum StreamName: Sendable, Hashable, CustomStringConvertible {
    case user(Int64)
    case channel(String)

    public var description: String {
        switch self {
        case .user(let id): "user:\(id)"
        case .channel(let name): "channel:\(name)"
        }
    }

    /// Reads a name as `description` writes it; nil for anything else.
    public init?(parsing text: Substring) {
        if text.hasPrefix("user:"), let id = Int64(text.dropFirst(5)), id > 0 {
            self = .user(id)
        } else if text.hasPrefix("channel:"), case let name = String(text.dropFirst(8)), Channel.problem(withName: name) == nil {
            self = .channel(name)
        } else {
            return nil
        }
    }
}
