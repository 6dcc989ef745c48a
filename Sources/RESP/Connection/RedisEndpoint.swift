import Foundation

/// Where a Redis server is and how to log in to it, from a `redis://[user[:password]@]host[:port][/db]` URL.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int?

    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    public init(url: String) throws(RedisError) {
        guard let components = URLComponents(string: url), components.scheme == "redis",
              let host = components.host, !host.isEmpty
        else { throw .invalidURL("expected redis://[user[:password]@]host[:port][/db], got \(Self.masked(url))") }
        self.host = host
        self.port = components.port ?? 6379
        guard (1...65535).contains(port) else { throw .invalidURL("the port must be 1-65535") }
        let user = components.user.flatMap { $0.removingPercentEncoding ?? $0 }
        self.password = components.password.flatMap { $0.removingPercentEncoding ?? $0 }
        // `redis://:secret@host` is a password without a user, as redis-cli reads it.
        self.username = user?.isEmpty == true ? nil : user
        let path = components.path.drop { $0 == "/" }
        if path.isEmpty {
            self.database = nil
        } else if let database = Int(path), database >= 0 {
            self.database = database
        } else {
            throw .invalidURL("the path must be a database number, got /\(path)")
        }
    }

    /// The URL without its password, for logs.
    public var description: String {
        let credentials = switch (username, password) {
        case (let user?, .some): "\(user):***@"
        case (nil, .some): ":***@"
        case (let user?, nil): "\(user)@"
        case (nil, nil): ""
        }
        return "redis://\(credentials)\(host):\(port)" + (database.map { "/\($0)" } ?? "")
    }

    private static func masked(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), let scheme = url.range(of: "://") else { return url }
        return String(url[..<scheme.upperBound]) + "***" + String(url[at...])
    }
}
