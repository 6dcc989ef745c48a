import ArgumentParser
import Foundation
import HeraldCore
import HummingbirdBcrypt

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage accounts.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account.")

        @Argument(help: "The username: 3–32 of A–Z, a–z, 0–9, '_', '.', '-'.") var name: String
        @Option(help: "The password (at least 8 characters).") var password: String
        @OptionGroup var settings: SettingsOptions

        func validate() throws {
            if let problem = Username.problem(with: name) { throw ValidationError(problem) }
            if let problem = Password.problem(with: password) { throw ValidationError(problem) }
        }

        func run() async throws {
            let configuration = try await settings.configuration()
            let hash = Bcrypt.hash(password, cost: UInt8(clamping: configuration.bcryptCost))
            let name = name
            try await StoreOpening.withStore(configuration) { store in
                do {
                    let user = try await store.createUser(username: name, passwordHash: hash)
                    FileHandle.standardError.write(Data("created user \(user.username) (id \(user.id))\n".utf8))
                } catch StoreError.usernameTaken {
                    throw ValidationError("The username \(name) is taken.")
                }
            }
        }
    }
}
