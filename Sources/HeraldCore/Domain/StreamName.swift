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
}
