import Foundation

/// The settings as people read them: the help of `herald serve`, the output of
/// `herald config check`, and the README's table (a test keeps the README's copy equal to this).
public enum SettingsListing {
    /// Every setting with its flag, environment variable and default.
    public static var help: String {
        let defaults = HeraldConfiguration()
        var lines = ["Settings: flags over HERALD_… environment variables over --config FILE (JSON or YAML keys)."]
        for setting in HeraldConfiguration.settings {
            lines.append("  --\(setting.flag) / \(setting.environmentVariable) / \(setting.key)")
            lines.append("      \(setting.help) Default: \(setting.value(in: defaults) ?? "unset").")
        }
        return lines.joined(separator: "\n")
    }

    /// The README's table.
    public static var markdownTable: String {
        let defaults = HeraldConfiguration()
        var lines = ["| file key | flag | environment | default | meaning |", "|---|---|---|---|---|"]
        for setting in HeraldConfiguration.settings {
            let value = setting.value(in: defaults).map { $0.isEmpty ? "(empty)" : "`\($0)`" } ?? "unset"
            lines.append(
                "| `\(setting.key)` | `--\(setting.flag)` | `\(setting.environmentVariable)` | \(value) | "
                    + setting.help.replacingOccurrences(of: "|", with: "\\|") + " |")
        }
        return lines.joined(separator: "\n")
    }

    /// The effective configuration, secrets masked, each value with where it came from.
    public static func effective(_ loaded: ConfigurationLoader.Loaded) -> String {
        let settings = HeraldConfiguration.settings
        let width = settings.map(\.key.count).max() ?? 0
        return settings.map { setting in
            let key = setting.key.padding(toLength: width, withPad: " ", startingAt: 0)
            let value = setting.value(in: loaded.configuration) ?? "unset"
            let origin: String = switch loaded.origins[setting.key] ?? .defaultValue {
            case .flag: "flag --\(setting.flag)"
            case .environment: "environment \(setting.environmentVariable)"
            case .file: "file"
            case .defaultValue: "default"
            }
            return "\(key)  \(value)  (\(origin))"
        }.joined(separator: "\n")
    }
}
