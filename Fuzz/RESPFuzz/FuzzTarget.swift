import NIOCore
import RESP

/// libFuzzer entry point for the RESP reply parser, with small limits so that the fuzzer reaches
/// them: the input is fed whole, then again in two pieces, split at eight places across it. Besides not
/// crashing, the parser must read the same replies however the bytes arrive, and consume only
/// whole replies.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    var limits = RESPParser.Limits()
    limits.maxLineLength = 64
    limits.maxBulkStringLength = 512
    limits.maxArrayCount = 64
    limits.maxDepth = 4
    let parser = RESPParser(limits: limits)

    let whole = replies(parser, [bytes[...]])
    for split in stride(from: 1, to: bytes.count, by: max(1, bytes.count / 8)) {
        let pieces = replies(parser, [bytes[..<split], bytes[split...]])
        precondition(pieces == whole, "replies depend on how the bytes arrived")
    }
    return 0
}

/// Every reply the parser reads from `pieces` arriving one after the other, and how it stopped.
private func replies(_ parser: RESPParser, _ pieces: [ArraySlice<UInt8>]) -> [String] {
    var buffer = ByteBuffer()
    var read: [String] = []
    for piece in pieces {
        buffer.writeBytes(piece)
        while true {
            let before = buffer.readerIndex
            do {
                guard let value = try parser.parse(&buffer) else {
                    precondition(buffer.readerIndex == before, "an incomplete reply was consumed")
                    break
                }
                precondition(buffer.readerIndex > before, "a reply consumed nothing")
                read.append("\(value)")
            } catch {
                return read + ["error \(error)"]
            }
        }
    }
    return read
}
