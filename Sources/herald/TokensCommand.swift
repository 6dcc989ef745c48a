import ArgumentParser
import Foundation
import HeraldCore
import HeraldServer

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Manage personal access tokens.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a personal access token for a user and print it (only the token, on stdout).")

        @Argument(help: "The user the token acts as.") var name: String
        @Option(help: "A note to remember what the token is for.") var label = "cli"
        @OptionGroup var settings: SettingsOptions

        func run() async throws {
            let configuration = try await settings.configuration()
            let (name, label) = (name, label)
            let token = try await StoreOpening.withStore(configuration) { store in
                guard let user = try await store.user(named: name) else {
                    throw ValidationError("There is no user called \(name).")
                }
                let token = Secret.generate(prefix: AccessToken.prefix)
                try await store.createAccessToken(userID: user.id, tokenDigest: Secret.digest(token), label: label)
                return token
            }
            print(token)
        }
    }
}
