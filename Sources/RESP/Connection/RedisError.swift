/// What goes wrong talking to Redis, apart from replies that cannot be parsed (`RESPParseError`).
public enum RedisError: Error, Equatable, Sendable {
    case invalidURL(String)
    case connectionClosed
    /// The server answered with an error reply (`-ERR …`, `-WRONGPASS …`).
    case server(String)
    case unexpectedReply(RESPValue)
    /// No connection: the last attempt failed and the back-off has not passed yet.
    case unavailable
}
