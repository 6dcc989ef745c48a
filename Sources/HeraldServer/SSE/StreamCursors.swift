import HeraldCore
import NIOCore

/// Where a multi-stream reader stands: one seq per stream, written as a single SSE id so that
/// `Last-Event-ID` resumes every stream of the connection at once.
///
/// Format: the user stream's seq, then `;name=seq` for each channel: `17;lobby=5;news=2`.
/// A connection reading only the user stream uses the plain seq (`17`), as the seeds' clients expect.
struct StreamCursors: Equatable {
    var user: Int64?
    /// Each channel's seq, sorted by name. A reader holds one or two: a short list costs each held
    /// connection less than a dictionary, and is as quick to search at that size.
    private var positions: [ChannelPosition] = []

    private struct ChannelPosition: Equatable {
        let name: String
        var seq: Int64
    }

    init(user: Int64? = nil, channels: [String: Int64] = [:]) {
        self.user = user
        for (name, seq) in channels { set(seq, for: .channel(name)) }
    }

    var channels: [String: Int64] {
        Dictionary(positions.map { ($0.name, $0.seq) }, uniquingKeysWith: { _, last in last })
    }

    /// Parses a cursor; nil when it is malformed (negative, not a number, a bad channel name).
    init?(parsing text: String) {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
        guard let first = parts.first else { return nil }
        if !first.isEmpty {
            guard let seq = Self.seq(first) else { return nil }
            user = seq
        }
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, Channel.problem(withName: String(pair[0])) == nil, let seq = Self.seq(pair[1])
            else { return nil }
            set(seq, for: .channel(String(pair[0])))
        }
    }

    func seq(of stream: StreamName) -> Int64? {
        switch stream {
        case .user: user
        case .channel(let name): positions.first { $0.name == name }?.seq
        }
    }

    mutating func set(_ seq: Int64, for stream: StreamName) {
        switch stream {
        case .user: user = seq
        case .channel(let name):
            let index = positions.firstIndex { $0.name >= name } ?? positions.endIndex
            if index < positions.endIndex, positions[index].name == name {
                positions[index].seq = seq
            } else {
                positions.insert(ChannelPosition(name: name, seq: seq), at: index)
            }
        }
    }

    mutating func remove(_ stream: StreamName) {
        switch stream {
        case .user: user = nil
        case .channel(let name): positions.removeAll { $0.name == name }
        }
    }

    /// The id for a connection reading `streams` (user stream first).
    func formatted(for streams: [StreamName]) -> String {
        var buffer = ByteBuffer()
        write(for: streams, to: &buffer)
        return String(buffer: buffer)
    }

    /// `formatted(for:)` written straight into `buffer`: no string is made on the way.
    func write(for streams: [StreamName], to buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maxLength(for: streams)) { write(for: streams, to: $0) }
    }

    /// The most `write(for:to:)` can take for `streams`.
    func maxLength(for streams: [StreamName]) -> Int {
        var length = Self.longestSeq
        for case .channel(let name) in streams.dropFirst() { length += 2 + name.utf8.count + Self.longestSeq }
        return length
    }

    /// `formatted(for:)` written at the start of `bytes` (at least `maxLength(for:)` of them), as
    /// Socket.IO does for every event; returns how many bytes it wrote.
    func write(for streams: [StreamName], to bytes: UnsafeMutableRawBufferPointer) -> Int {
        var at = Self.write(user ?? 0, to: bytes, at: 0)
        for case .channel(let name) in streams.dropFirst() {
            bytes[at] = UInt8(ascii: ";")
            at += 1
            for byte in name.utf8 {
                bytes[at] = byte
                at += 1
            }
            bytes[at] = UInt8(ascii: "=")
            at = Self.write(seq(of: .channel(name)) ?? 0, to: bytes, at: at + 1)
        }
        return at
    }

    private static let longestSeq = 20  // "-9223372036854775808"

    /// `seq` in decimal at `index` of `bytes`; returns the index after it.
    private static func write(_ seq: Int64, to bytes: UnsafeMutableRawBufferPointer, at index: Int) -> Int {
        var at = index
        if seq < 0 {
            bytes[at] = UInt8(ascii: "-")
            at += 1
        }
        var rest = seq.magnitude
        var digits = 1
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        rest = seq.magnitude
        for place in stride(from: at + digits - 1, through: at, by: -1) {
            bytes[place] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        return at + digits
    }

    /// A seq as `Cursor` reads one; a timestamp is not a stream cursor here.
    private static func seq(_ text: Substring) -> Int64? {
        if case .seq(let seq)? = Cursor(parsing: text) { return seq }
        return nil
    }
}
