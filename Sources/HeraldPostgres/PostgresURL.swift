import Foundation
import PostgresNIO

/// Reads `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`, the
/// form libpq and every PostgreSQL tool accept.
public struct PostgresURL: Sendable, CustomStringConvertible {
    public let configuration: PostgresClient.Configuration
    /// The URL with its password masked, for logs.
    public let description: String

    public init(_ text: String) throws(PostgresURLError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            ["postgres", "postgresql"].contains(scheme)
        else { throw PostgresURLError("A database URL looks like postgres://user:password@host:5432/database.") }
        guard let host = components.host, !host.isEmpty else { throw PostgresURLError("The database URL names no host.") }
        guard let user = components.user, !user.isEmpty else { throw PostgresURLError("The database URL names no user.") }
        let port = components.port ?? 5432
        let database = components.path.split(separator: "/").first.map(String.init)
        let password = components.password?.removingPercentEncoding
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw PostgresURLError("sslmode must be disable, prefer or require, not \(mode).")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user.removingPercentEncoding ?? user, password: password,
            database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(3)
        self.configuration = configuration
        let credentials = password == nil ? user : "\(user):***"
        self.description = "\(scheme)://\(credentials)@\(host):\(port)/\(database ?? "")"
    }
}

public struct PostgresURLError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
