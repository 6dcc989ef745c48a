import ArgumentParser
import Foundation
import HeraldCore

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Inspect Herald's configuration.", subcommands: [Check.self, Table.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective configuration (secrets masked), or every problem with it, naming each setting.",
            discussion: SettingsListing.help)

        @OptionGroup var settings: SettingsOptions

        func run() async throws {
            let loaded: ConfigurationLoader.Loaded
            do {
                loaded = try await ConfigurationLoader.load(arguments: settings.settings, file: settings.file)
            } catch {
                FileHandle.standardError.write(Data("\(error.description)\n".utf8))
                throw ExitCode.failure
            }
            if let problem = loaded.configuration.busProblem ?? loaded.configuration.jwtProblem {
                FileHandle.standardError.write(Data("\(problem)\n".utf8))
                throw ExitCode.failure
            }
            print(SettingsListing.effective(loaded))
        }
    }

    struct Table: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the table of every setting, as Markdown (the README's).")

        func run() {
            print(SettingsListing.markdownTable)
        }
    }
}
