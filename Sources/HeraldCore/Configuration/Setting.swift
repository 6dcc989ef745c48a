import Configuration
import Foundation

/// One of Herald's settings, under the three names it can be given by: a key in a configuration
/// file (`retention.count`), a command-line flag (`--retention-count`) and an environment variable
/// (`HERALD_RETENTION_COUNT`). Its default is whatever `HeraldConfiguration()` holds, so the
/// defaults live in one place and every listing of them (`herald config check`, the README's
/// table) reads them from there.
public struct Setting: Sendable {
    public enum Kind: String, Sendable {
        case text, integer, number, boolean, list
    }

    /// The dotted key of a configuration file; also how the setting is named in messages.
    public let key: String
    /// The long flag, without its dashes.
    public let flag: String
    public let environmentVariable: String
    public let kind: Kind
    public let help: String
    /// Masked wherever settings are shown, and read as secrets (never in an access log).
    public let isSecret: Bool
    /// Reads the setting's value, if any provider has one, into the configuration; returns why the
    /// value cannot be used, if it cannot.
    let read: @Sendable (ConfigReader, inout HeraldConfiguration) -> String?
    /// The value a configuration holds, as the listings show it; nil when unset.
    let show: @Sendable (HeraldConfiguration) -> String?

    public func value(in configuration: HeraldConfiguration) -> String? {
        guard let shown = show(configuration) else { return nil }
        return isSecret ? "********" : shown
    }
}

extension Setting {
    /// The flag and environment variable follow from the key unless given: `retention.count` is
    /// `--retention-count` and `HERALD_RETENTION_COUNT`.
    private init(
        _ key: String, flag: String?, kind: Kind, help: String, isSecret: Bool,
        read: @escaping @Sendable (ConfigReader, ConfigKey, inout HeraldConfiguration) -> String?,
        show: @escaping @Sendable (HeraldConfiguration) -> String?
    ) {
        self.key = key
        self.flag = flag ?? key.replacingOccurrences(of: ".", with: "-")
        // As swift-configuration's EnvironmentVariablesProvider spells a key, under Herald's prefix.
        self.environmentVariable = "HERALD_" + String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        self.kind = kind
        self.help = help
        self.isSecret = isSecret
        let configKey = ConfigKey(key)
        self.read = { reader, configuration in read(reader, configKey, &configuration) }
        self.show = show
    }

    static func text(
        _ key: String, flag: String? = nil, _ path: any WritableKeyPath<HeraldConfiguration, String> & Sendable,
        help: String, check: (@Sendable (String) -> String?)? = nil
    ) -> Setting {
        Setting(
            key, flag: flag, kind: .text, help: help, isSecret: false,
            read: { reader, key, configuration in
                guard let value = reader.string(forKey: key) else { return nil }
                if let problem = check?(value) { return problem }
                configuration[keyPath: path] = value
                return nil
            },
            show: { $0[keyPath: path] })
    }

    /// A setting that is unset by default; an empty value leaves it unset.
    static func optionalText(
        _ key: String, flag: String? = nil, _ path: any WritableKeyPath<HeraldConfiguration, String?> & Sendable,
        help: String, isSecret: Bool = false, check: (@Sendable (String) -> String?)? = nil
    ) -> Setting {
        Setting(
            key, flag: flag, kind: .text, help: help, isSecret: isSecret,
            read: { reader, key, configuration in
                guard let value = reader.string(forKey: key, isSecret: isSecret), !value.isEmpty else { return nil }
                if let problem = check?(value) { return problem }
                configuration[keyPath: path] = value
                return nil
            },
            show: { $0[keyPath: path] })
    }

    static func integer(
        _ key: String, flag: String? = nil, _ path: any WritableKeyPath<HeraldConfiguration, Int> & Sendable,
        in range: ClosedRange<Int>, help: String
    ) -> Setting {
        ranged(
            key, flag: flag, path, in: range, kind: .integer, help: help, read: { $0.int(forKey: $1) },
            describe: describe, show: { String($0) })
    }

    static func number(
        _ key: String, flag: String? = nil, _ path: any WritableKeyPath<HeraldConfiguration, Double> & Sendable,
        in range: ClosedRange<Double>, help: String
    ) -> Setting {
        ranged(
            key, flag: flag, path, in: range, kind: .number, help: help, read: { $0.double(forKey: $1) },
            describe: { "\($0.lowerBound)…\($0.upperBound)" }, show: shortNumber)
    }

    /// A number that must fall in `range`.
    private static func ranged<Value: Comparable & Sendable>(
        _ key: String, flag: String?, _ path: any WritableKeyPath<HeraldConfiguration, Value> & Sendable,
        in range: ClosedRange<Value>, kind: Kind, help: String,
        read value: @escaping @Sendable (ConfigReader, ConfigKey) -> Value?,
        describe: @escaping @Sendable (ClosedRange<Value>) -> String, show: @escaping @Sendable (Value) -> String
    ) -> Setting {
        Setting(
            key, flag: flag, kind: kind, help: help, isSecret: false,
            read: { reader, key, configuration in
                guard let value = value(reader, key) else { return nil }
                guard range.contains(value) else { return "\(value) is out of range: \(describe(range))" }
                configuration[keyPath: path] = value
                return nil
            },
            show: { show($0[keyPath: path]) })
    }

    static func boolean(
        _ key: String, flag: String? = nil, _ path: any WritableKeyPath<HeraldConfiguration, Bool> & Sendable, help: String
    ) -> Setting {
        Setting(
            key, flag: flag, kind: .boolean, help: help, isSecret: false,
            read: { reader, key, configuration in
                guard let value = reader.bool(forKey: key) else { return nil }
                configuration[keyPath: path] = value
                return nil
            },
            show: { String($0[keyPath: path]) })
    }

    static func list(
        _ key: String, flag: String? = nil, _ path: any WritableKeyPath<HeraldConfiguration, [String]> & Sendable,
        help: String
    ) -> Setting {
        Setting(
            key, flag: flag, kind: .list, help: help, isSecret: false,
            read: { reader, key, configuration in
                guard let values = reader.stringArray(forKey: key) else { return nil }
                configuration[keyPath: path] = values.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                return nil
            },
            show: { $0[keyPath: path].joined(separator: ",") })
    }

    /// One of a fixed set of words, unset by default.
    static func choice<Value: RawRepresentable & CaseIterable & Sendable>(
        _ key: String, flag: String? = nil, _ path: any WritableKeyPath<HeraldConfiguration, Value?> & Sendable,
        help: String
    ) -> Setting where Value.RawValue == String {
        choosing(key, flag: flag, help: help, set: { $0[keyPath: path] = $1 }, show: { $0[keyPath: path]?.rawValue })
    }

    static func choice<Value: RawRepresentable & CaseIterable & Sendable>(
        _ key: String, flag: String? = nil, _ path: any WritableKeyPath<HeraldConfiguration, Value> & Sendable,
        help: String
    ) -> Setting where Value.RawValue == String {
        choosing(key, flag: flag, help: help, set: { $0[keyPath: path] = $1 }, show: { $0[keyPath: path].rawValue })
    }

    private static func choosing<Value: RawRepresentable & CaseIterable & Sendable>(
        _ key: String, flag: String?, help: String, set: @escaping @Sendable (inout HeraldConfiguration, Value) -> Void,
        show: @escaping @Sendable (HeraldConfiguration) -> String?
    ) -> Setting where Value.RawValue == String {
        Setting(
            key, flag: flag, kind: .text, help: help, isSecret: false,
            read: { reader, key, configuration in
                guard let raw = reader.string(forKey: key), !raw.isEmpty else { return nil }
                guard let value = Value(rawValue: raw) else {
                    return "\(raw) is not one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))"
                }
                set(&configuration, value)
                return nil
            },
            show: show)
    }

    @Sendable private static func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == .max ? "at least \(range.lowerBound)" : "\(range.lowerBound)…\(range.upperBound)"
    }

    @Sendable private static func shortNumber(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
