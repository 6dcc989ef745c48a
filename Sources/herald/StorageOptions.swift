import ArgumentParser
import Foundation
import HeraldCore

/// Where Herald keeps its data: `--data-dir`, or `HERALD_DATA_DIR`, or `./herald-data`.
struct StorageOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Directory of the SQLite database (env: HERALD_DATA_DIR).")
    var dataDirectory: String?

    func apply(to configuration: inout HeraldConfiguration) {
        if let dataDirectory { configuration.dataDirectory = dataDirectory }
    }

    func openStore(_ configuration: HeraldConfiguration) throws -> SQLiteStore {
        try SQLiteStore(directory: configuration.dataDirectory, retention: configuration.retention)
    }
}
