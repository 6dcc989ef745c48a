import Configuration
import Foundation
import SystemPackage
import Yams

/// A configuration file, JSON or YAML by its extension.
enum ConfigurationFile {
    struct Unsupported: Error, CustomStringConvertible {
        var description: String { "a configuration file is .json, .yaml or .yml" }
    }

    struct NotAMapping: Error, CustomStringConvertible {
        var description: String { "the file must hold a mapping of settings" }
    }

    static func provider(path: String) async throws -> any ConfigProvider {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "json": try await FileProvider<JSONSnapshot>(filePath: FilePath(path))
        case "yaml", "yml": try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
        default: throw Unsupported()
        }
    }

    /// The dotted keys of the file's leaves that are not in `known`. swift-configuration reads only
    /// what it is asked for, so a misspelt key would otherwise be ignored without a word.
    static func unknownKeys(path: String, known: Set<String>) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let parsed: Any? =
            URL(fileURLWithPath: path).pathExtension.lowercased() == "json"
            ? try JSONSerialization.jsonObject(with: Data(text.utf8))
            : try Yams.load(yaml: text)
        guard let mapping = parsed as? [String: Any] else { throw NotAMapping() }
        var unknown: [String] = []
        func visit(_ mapping: [String: Any], prefix: String) {
            for (name, value) in mapping.sorted(by: { $0.key < $1.key }) {
                let key = prefix.isEmpty ? name : "\(prefix).\(name)"
                if known.contains(key) { continue }
                if let nested = value as? [String: Any], known.contains(where: { $0.hasPrefix(key + ".") }) {
                    visit(nested, prefix: key)
                } else {
                    unknown.append(key)
                }
            }
        }
        visit(mapping, prefix: "")
        return unknown
    }
}
