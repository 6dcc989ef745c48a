import Configuration
import Foundation
import Synchronization
import SystemPackage

/// Reads Herald's configuration through swift-configuration: command-line flags over `HERALD_…`
/// environment variables over a file (`--config herald.json`, or `.yaml`), over the defaults.
///
/// Guarantees: a flag or a file key that names no setting, a value of the wrong type and a value
/// out of range are all refused, every one of them named in the error, before anything starts;
/// environment variables that name no setting are left alone (the environment is shared with
/// everything else the process runs beside).
public enum ConfigurationLoader {
    /// Where a setting's value came from.
    public enum Origin: Sendable, Equatable {
        case flag, environment, file, defaultValue
    }

    public struct Loaded: Sendable {
        public var configuration: HeraldConfiguration
        /// The origin of each setting's value, by key.
        public var origins: [String: Origin]
    }

    /// Everything wrong with the settings, one line each.
    public struct Problems: Error, CustomStringConvertible {
        public var lines: [String]
        public var description: String { lines.joined(separator: "\n") }
    }

    /// - Parameters:
    ///   - arguments: the setting flags, as typed (`--port 0`, `--ws-deflate`, `--bus=redis`).
    ///   - environment: the process environment; only `HERALD_…` names of settings are read.
    ///   - file: a JSON or YAML file of settings, keyed like `HeraldConfiguration.settings`.
    public static func load(
        arguments: [String] = [], environment: [String: String] = ProcessInfo.processInfo.environment,
        file: String? = nil
    ) async throws(Problems) -> Loaded {
        var problems = Self.problems(inArguments: arguments)
        let settings = Dictionary(uniqueKeysWithValues: HeraldConfiguration.settings.map { ($0.key, $0) })

        let flags = KeyMappingProvider(upstream: CommandLineArgumentsProvider(arguments: ["herald"] + arguments)) { key in
            AbsoluteConfigKey([settings[key.components.joined(separator: ".")]?.flag ?? key.components.joined(separator: "-")])
        }
        let variables = KeyMappingProvider(upstream: EnvironmentVariablesProvider(environmentVariables: environment)) {
            $0.prepending(["herald"])
        }
        var providers: [any ConfigProvider] = [flags, variables]
        var origins = [flags.providerName: Origin.flag, variables.providerName: .environment]
        if let file {
            do {
                let provider = try await ConfigurationFile.provider(path: file)
                providers.append(provider)
                origins[provider.providerName] = .file
                problems += try ConfigurationFile.unknownKeys(path: file, known: Set(settings.keys)).map {
                    "\(file): unknown key \($0)"
                }
            } catch {
                problems.append("\(file): \(error)")
            }
        }
        let reporter = AccessRecorder()
        let reader = ConfigReader(providers: providers, accessReporter: reporter)
        var configuration = HeraldConfiguration()
        var found: [String: Origin] = [:]
        for setting in HeraldConfiguration.settings {
            let before = reporter.count
            let problem = setting.read(reader, &configuration)
            let events = reporter.events(from: before)
            let origin = events.lazy.compactMap { origins[$0] }.first ?? .defaultValue
            found[setting.key] = origin
            if let failure = reporter.failure(from: before) {
                problems.append("\(name(of: setting, from: failure.origin.flatMap { origins[$0] }, file: file)): \(failure.reason)")
            } else if let problem {
                problems.append("\(name(of: setting, from: origin, file: file)): \(problem)")
            }
        }
        guard problems.isEmpty else { throw Problems(lines: problems) }
        return Loaded(configuration: configuration, origins: found)
    }

    /// How a user wrote the setting: `--port`, `HERALD_PORT`, or `port` in the file.
    static func name(of setting: Setting, from origin: Origin?, file: String?) -> String {
        switch origin {
        case .flag: "--\(setting.flag)"
        case .environment: setting.environmentVariable
        case .file: "\(setting.key) in \(file ?? "the file")"
        case .defaultValue, nil: setting.key
        }
    }

    /// Flags that name no setting, values with no flag, and flags missing their value.
    static func problems(inArguments arguments: [String]) -> [String] {
        var problems: [String] = []
        var expectingValue: Setting?
        for argument in arguments {
            guard argument.hasPrefix("--") else {
                if expectingValue == nil { problems.append("unexpected argument \(argument)") }
                expectingValue = nil
                continue
            }
            if let setting = expectingValue { problems.append("--\(setting.flag) needs a value") }
            expectingValue = nil
            let name = argument.dropFirst(2).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let setting = HeraldConfiguration.setting(flag: String(name[0])) else {
                problems.append("unknown option --\(name[0])")
                continue
            }
            if name.count == 1, setting.kind != .boolean { expectingValue = setting }
        }
        if let setting = expectingValue { problems.append("--\(setting.flag) needs a value") }
        return problems
    }
}

/// Keeps what the reader reports, to tell where each value came from and which provider could
/// not give a value of the type asked for.
private final class AccessRecorder: AccessReporter {
    struct Failure {
        var origin: String?
        var reason: String
    }

    private let recorded = Mutex<[AccessEvent]>([])

    func report(_ event: AccessEvent) {
        recorded.withLock { $0.append(event) }
    }

    var count: Int { recorded.withLock { $0.count } }

    /// The providers that held a value, in the order asked, for the events since `start`.
    func events(from start: Int) -> [String] {
        recorded.withLock { events in
            events[start...].flatMap { event in
                event.providerResults.compactMap { result in
                    guard case .success(let lookup) = result.result, lookup.value != nil else { return nil }
                    return result.providerName
                }
            }
        }
    }

    func failure(from start: Int) -> Failure? {
        recorded.withLock { events in
            for event in events[start...] {
                for result in event.providerResults {
                    if case .failure = result.result {
                        return Failure(origin: result.providerName, reason: "not a valid \(event.metadata.valueType.noun)")
                    }
                }
                if event.conversionError != nil {
                    return Failure(origin: nil, reason: "not a valid \(event.metadata.valueType.noun)")
                }
            }
            return nil
        }
    }
}

extension ConfigType {
    fileprivate var noun: String {
        switch self {
        case .int: "integer"
        case .double: "number"
        case .bool: "boolean (true or false)"
        case .string: "string"
        case .stringArray: "list of strings"
        default: rawValue
        }
    }
}
