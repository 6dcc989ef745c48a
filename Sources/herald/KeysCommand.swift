import ArgumentParser
import Foundation
import HeraldCore
import HeraldServer

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage server API keys (for other backends).", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a server API key for POST /api/publish and print it (only the key, on stdout).")

        @Option(help: "A note to remember what the key is for.") var label = "cli"
        @OptionGroup var settings: SettingsOptions

        func run() async throws {
            let configuration = try await settings.configuration()
            let label = label
            let key = Secret.generate(prefix: ServerKey.prefix)
            try await StoreOpening.withStore(configuration) { store in
                try await store.createAPIKey(digest: Secret.digest(key), label: label)
            }
            print(key)
        }
    }
}
