import ArgumentParser
import Foundation
import HeraldCore

/// Herald's settings, as every command that needs them takes them: `--config FILE` and any
/// setting as a flag (`--port 0`, `--data-dir DIR`), over `HERALD_…` environment variables, over
/// the file (`herald config check --help` lists them all).
struct SettingsOptions: ParsableArguments {
    @Option(help: "A JSON or YAML file of settings (env: HERALD_CONFIG).") var config: String?
    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("Any setting as a flag, such as --port 0 or --data-dir DIR.", valueName: "--setting value"))
    var settings: [String] = []

    var file: String? {
        config ?? ProcessInfo.processInfo.environment["HERALD_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func load() async throws -> ConfigurationLoader.Loaded {
        do {
            return try await ConfigurationLoader.load(arguments: settings, file: file)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func configuration() async throws -> HeraldConfiguration {
        try await load().configuration
    }
}
