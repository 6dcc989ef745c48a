import Foundation
import HeraldCore
import Testing

@Suite struct ConfigurationLoaderTests {
    private func file(_ name: String, _ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func problems(
        arguments: [String] = [], environment: [String: String] = [:], file: String? = nil
    ) async -> [String] {
        do {
            _ = try await ConfigurationLoader.load(arguments: arguments, environment: environment, file: file)
            return []
        } catch {
            return error.lines
        }
    }

    @Test func defaultsWithNothingGiven() async throws {
        let loaded = try await ConfigurationLoader.load(environment: [:])
        #expect(loaded.configuration.port == 8080)
        #expect(loaded.configuration.retention.maxCount == 1000)
        #expect(loaded.origins["port"] == .defaultValue)
    }

    @Test func flagsOverEnvironmentOverFileOverDefaults() async throws {
        let path = try file(
            "herald.json",
            #"{"port": 1111, "host": "0.0.0.0", "retention": {"count": 7, "seconds": 60}, "heartbeat-seconds": 3}"#)
        let loaded = try await ConfigurationLoader.load(
            arguments: ["--port", "3333", "--ws-deflate", "--bus=inprocess"],
            environment: ["HERALD_PORT": "2222", "HERALD_HOST": "10.0.0.1", "HERALD_RETENTION_COUNT": "8", "PATH": "/bin"],
            file: path)
        let configuration = loaded.configuration
        #expect(configuration.port == 3333)
        #expect(configuration.host == "10.0.0.1")
        #expect(configuration.retention.maxCount == 8)
        #expect(configuration.retention.maxAge == 60)
        #expect(configuration.heartbeatSeconds == 3)
        #expect(configuration.webSocketDeflate)
        #expect(configuration.bus == .inProcess)
        #expect(configuration.messagesPerPage == HeraldConfiguration().messagesPerPage)
        #expect(loaded.origins["port"] == .flag)
        #expect(loaded.origins["host"] == .environment)
        #expect(loaded.origins["retention.seconds"] == .file)
        #expect(loaded.origins["messages-per-page"] == .defaultValue)
    }

    @Test func yamlFilesAndLists() async throws {
        let path = try file("herald.yaml", "port: 4444\nflask-sse-channels: [news, alerts]\nredis:\n  url: redis://127.0.0.1:6379\n")
        let configuration = try await ConfigurationLoader.load(environment: [:], file: path).configuration
        #expect(configuration.port == 4444)
        #expect(configuration.flaskSSEChannels == ["news", "alerts"])
        #expect(configuration.redisURL == "redis://127.0.0.1:6379")
        let listed = try await ConfigurationLoader.load(environment: ["HERALD_FLASK_SSE_CHANNELS": "a, b,,c"]).configuration
        #expect(listed.flaskSSEChannels == ["a", "b", "c"])
    }

    @Test func unknownFlagsAndStrayValuesAreNamed() async {
        let lines = await problems(arguments: ["--prot", "80", "--port"])
        #expect(lines.contains("unknown option --prot"))
        #expect(lines.contains("unexpected argument 80"))
        #expect(lines.contains("--port needs a value"))
    }

    @Test func unknownFileKeysAreNamedWithTheirPath() async throws {
        let path = try file("herald.json", #"{"retention": {"count": 5, "cuont": 6}, "prot": 1, "redis": "redis://x"}"#)
        let lines = await problems(file: path)
        #expect(lines.contains("\(path): unknown key retention.cuont"))
        #expect(lines.contains("\(path): unknown key prot"))
        #expect(lines.contains("\(path): unknown key redis"))
    }

    @Test func badValuesAreNamedAsTheUserWroteThem() async throws {
        let path = try file("herald.json", #"{"port": "eighty", "messages-per-page": 0}"#)
        let lines = await problems(
            arguments: ["--heartbeat-seconds", "soon", "--bus", "carrier-pigeon"],
            environment: ["HERALD_RETENTION_COUNT": "-1", "HERALD_WS_DEFLATE": "perhaps", "HERALD_DATABASE_URL": "mysql://x"],
            file: path)
        #expect(lines.contains("--heartbeat-seconds: not a valid integer"))
        #expect(lines.contains("--bus: carrier-pigeon is not one of inprocess, redis, postgres"))
        #expect(lines.contains("HERALD_RETENTION_COUNT: -1 is out of range: at least 1"))
        #expect(lines.contains("HERALD_WS_DEFLATE: not a valid boolean (true or false)"))
        #expect(lines.contains("HERALD_DATABASE_URL: is not a postgres:// URL"))
        #expect(lines.contains("port in \(path): not a valid integer"))
        #expect(lines.contains("messages-per-page in \(path): 0 is out of range: 1…1000"))
    }

    @Test func malformedAndMissingFilesAreRefused() async throws {
        let broken = try file("herald.json", #"{"port": "#)
        #expect(await problems(file: broken).first?.hasPrefix("\(broken): ") == true)
        let notMapping = try file("herald.yaml", "- 1\n- 2\n")
        let lines = await problems(file: notMapping)
        #expect(lines.count == 1 && lines[0].hasPrefix("\(notMapping): "))
        #expect(await problems(file: "/nonexistent/herald.json").count == 1)
        let wrongKind = try file("herald.toml", "port = 1")
        #expect(await problems(file: wrongKind) == ["\(wrongKind): a configuration file is .json, .yaml or .yml"])
    }

    @Test func secretsAreMaskedInListings() async throws {
        let loaded = try await ConfigurationLoader.load(
            arguments: ["--cluster-secret", "hunter2-cluster"],
            environment: ["HERALD_DATABASE_URL": "postgres://herald:hunter2-db@db/herald"])
        #expect(loaded.configuration.clusterSecret == "hunter2-cluster")
        let listing = SettingsListing.effective(loaded)
        #expect(!listing.contains("hunter2"))
        #expect(listing.contains("cluster-secret"))
        #expect(!SettingsListing.help.contains("hunter2"))
        // However a library prints it, on its own or inside something else.
        struct Holder { let configuration: HeraldConfiguration }
        #expect(!String(describing: loaded.configuration).contains("hunter2"))
        #expect(!String(reflecting: Holder(configuration: loaded.configuration)).contains("hunter2"))
        #expect(String(describing: Holder(configuration: loaded.configuration)).contains("cluster-secret: ********"))
    }

    @Test func everySettingHasItsOwnNames() {
        let settings = HeraldConfiguration.settings
        #expect(Set(settings.map(\.key)).count == settings.count)
        #expect(Set(settings.map(\.flag)).count == settings.count)
        #expect(Set(settings.map(\.environmentVariable)).count == settings.count)
    }

    /// The README's table is the one `herald config table` prints.
    @Test func theReadmeListsEverySettingAsTheCodeHasIt() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "<!-- settings table: generated by `herald config table`; a test keeps it equal -->\n"))
        let end = try #require(text.range(of: "\n<!-- end of settings table -->"))
        #expect(String(text[start.upperBound..<end.lowerBound]) == SettingsListing.markdownTable)
    }
}
