import HeraldCore
import NIOCore
import Testing

@testable import HeraldServer

@Suite struct StreamCursorsTests {
    @Test func roundTripsThroughTheSSEId() throws {
        let streams: [StreamName] = [.user(1), .channel("lobby"), .channel("news")]
        let cursors = try #require(StreamCursors(parsing: "17;lobby=5;news=0"))
        #expect(cursors.user == 17 && cursors.channels == ["lobby": 5, "news": 0])
        #expect(cursors.formatted(for: streams) == "17;lobby=5;news=0")
        #expect(StreamCursors(parsing: "42")?.formatted(for: [.user(1)]) == "42")
        #expect(StreamCursors(parsing: ";lobby=3")?.user == nil)
    }

    @Test func channelsAreSetReplacedAndRemovedWhateverTheirOrder() throws {
        var cursors = StreamCursors(user: 3)
        for (name, seq) in [("news", 2), ("a", 1), ("lobby", 5), ("news", 7)] { cursors.set(Int64(seq), for: .channel(name)) }
        #expect(cursors.channels == ["a": 1, "lobby": 5, "news": 7])
        #expect(cursors == StreamCursors(user: 3, channels: ["news": 7, "lobby": 5, "a": 1]))
        #expect(cursors != StreamCursors(user: 3, channels: ["news": 7, "lobby": 5]))
        cursors.remove(.channel("lobby"))
        cursors.remove(.channel("never-joined"))
        #expect(cursors.seq(of: .channel("lobby")) == nil && cursors.seq(of: .channel("news")) == 7)
        #expect(cursors.formatted(for: [.user(1), .channel("news"), .channel("a"), .channel("gone")]) == "3;news=7;a=1;gone=0")
        // A channel named twice in a cursor: the last one counts.
        #expect(try #require(StreamCursors(parsing: "0;x=1;x=4")).channels == ["x": 4])
    }

    /// Socket.IO writes the offset of every event straight into raw memory, sized by
    /// `maxLength(for:)`: the longest seqs, long names and many channels fit and read back.
    @Test(arguments: [Int64(0), 9, 10, 99_999, Int64.max])
    func theOffsetWrittenInPlaceFitsAndReadsBack(seq: Int64) throws {
        let long = String(repeating: "n", count: 64)
        let streams: [StreamName] = [.user(1), .channel(long), .channel("a"), .channel("b")]
        let cursors = StreamCursors(user: seq, channels: [long: seq, "a": 0, "b": Int64.max - seq])
        let maxLength = cursors.maxLength(for: streams)
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: maxLength, alignment: 1)
        defer { bytes.deallocate() }
        let written = cursors.write(for: streams, to: bytes)
        #expect(written <= maxLength)
        let text = String(decoding: bytes[..<written], as: UTF8.self)
        #expect(text == "\(seq);\(long)=\(seq);a=0;b=\(Int64.max - seq)")
        #expect(StreamCursors(parsing: text) == cursors)
        #expect(cursors.formatted(for: streams) == text)
    }

    /// A multi-stream SSE reader's id line is written in place, as its own chunk: its size in hex
    /// is right on both sides of every change in its number of digits, and it reads back.
    @Test(arguments: [1, 5, 6, 7, 240, 241, 242, 300])
    func theCompositeIDWrittenInPlaceIsAWholeChunk(nameLength: Int) throws {
        let name = String(repeating: "c", count: nameLength)
        let streams: [StreamName] = [.user(1), .channel(name)]
        let cursors = StreamCursors(user: 3, channels: [name: 12])
        let line = "id: 3;\(name)=12\n"
        for chunked in [true, false] {
            let maxLength = SSEFrame.maxIDLength(cursors, for: streams)
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: maxLength, alignment: 1)
            defer { bytes.deallocate() }
            let written = SSEFrame.writeID(cursors, for: streams, chunked: chunked, into: bytes)
            let text = String(decoding: bytes[..<written], as: UTF8.self)
            #expect(text == (chunked ? String(line.utf8.count, radix: 16) + "\r\n" + line + "\r\n" : line))
        }
    }

    @Test(arguments: ["-1", "x", "1;lobby", "1;lobby=-2", "1;bad name=2", "1;=2", "1.5", "99999999999999999999"])
    func malformedCursorsAreRefused(text: String) {
        #expect(StreamCursors(parsing: text) == nil)
    }

    @Test func framesSplitMultilineDataAndCarryTheirId() {
        let frame = SSEFrame.frame(id: "7", name: "note", data: "a\nb\r\nc")
        #expect(String(buffer: frame) == "id: 7\nevent: note\ndata: a\ndata: b\ndata: c\n\n")
        let event = StreamEvent(
            stream: .user(1),
            notification: StreamNotification(id: 1, name: "n", json: "{}", timestamp: 0, seq: 9, mode: .append))
        #expect(String(buffer: SSEFrame.withID.encode(event)) == "id: 9\nevent: n\ndata: {}\n\n")
        #expect(String(buffer: SSEFrame.withoutID.encode(event)) == "event: n\ndata: {}\n\n")
    }
}
