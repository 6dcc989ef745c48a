import ArgumentParser
import Foundation
import HeraldCore

/// Brings the database schema up to date and stops. `herald serve` does the same on start; this
/// is for deployments that migrate in a step of their own before starting any node.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Bring the database schema up to date (serve does this on start).")

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        let configuration = try await settings.configuration()
        try await StoreOpening.withStore(configuration) { store in
            try await store.checkHealth()
        }
        FileHandle.standardError.write(Data("the schema is up to date\n".utf8))
    }
}
