import Foundation
import Logging

/// Herald's log lines, as swift-log's `StreamLogHandler` writes them
/// (`2026-12-07T03:30:00+0000 info herald: key=value [HeraldServer] message`), with one
/// difference: the metadata is formatted when a line is written, not each time it changes.
/// Hummingbird and `RequestLogMiddleware` give every request's logger its id, and
/// `StreamLogHandler` formatting all its metadata on each of those was about a tenth of the CPU
/// of a `/healthz` request, for lines that at the default level are never written.
public struct HeraldLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata = Logger.Metadata()
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// What `herald serve` logs with: whole lines to standard error.
    public static func standardError(label: String) -> HeraldLogHandler {
        HeraldLogHandler(label: label, metadataProvider: LoggingSystem.metadataProvider) { line in
            // One write per line, so lines of different threads never interleave.
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, provided in provided } }
        if let explicit = event.metadata { all.merge(explicit) { _, explicit in explicit } }
        if let error = event.error {
            all["error.message"] = "\(error)"
            all["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let fields = all.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        write("\(Self.timestamp()) \(event.level) \(label):\(fields) [\(event.source)] \(event.message)\n")
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var local = tm()
        guard localtime_r(&now, &local) != nil else { return "<unknown>" }
        var text = [CChar](repeating: 0, count: 64)
        let length = strftime(&text, text.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        return String(decoding: text.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
