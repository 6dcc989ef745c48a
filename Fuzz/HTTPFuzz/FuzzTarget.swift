import HTTPHead
import NIOCore
import NIOHTTP1

/// libFuzzer entry point for the request head parser: the input is searched for a head's end, whole
/// and in pieces, and the head found (or the whole input) is parsed, under limits low enough for
/// inputs of a few kilobytes to reach them. Besides not crashing, the search must give the same
/// answer however the bytes come and never read past its limit, and a head that parses must parse
/// to the same head once written out again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let (maxBytes, maxFields) = (1024, 8)
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: start, count: count))
    let view = buffer.readableBytesView
    let whole = Result { () throws(RequestHeadParser.Failure) in try RequestHeadParser.headLength(in: view, maxBytes: maxBytes) }
    var scanner = RequestHeadParser.EndScanner(maxBytes: maxBytes)
    var received = ByteBuffer()
    var inPieces: Result<Int?, RequestHeadParser.Failure> = .success(nil)
    for piece in stride(from: 0, to: count, by: 7) {
        received.writeImmutableBuffer(buffer.getSlice(at: piece, length: min(7, count - piece))!)
        inPieces = Result { () throws(RequestHeadParser.Failure) in try scanner.scan(received.readableBytesView) }
        if case .success(nil) = inPieces { continue }
        break
    }
    precondition(whole == inPieces, "the end of a head depends on how its bytes arrive")
    var head = view
    switch whole {
    case .success(let length?):
        precondition(length <= maxBytes, "the head's end was found past the limit")
        head = view[view.startIndex..<(view.startIndex + length)]
    case .success(nil):
        break
    case .failure(.tooLarge):
        precondition(count >= maxBytes, "a head under the limit was called too large")
    case .failure:
        return 0
    }
    guard let parsed = try? RequestHeadParser.parse(head, maxBytes: maxBytes, maxFields: maxFields) else { return 0 }
    // Written out again, U+FFFD in place of bytes that were not UTF-8 can outgrow the limit.
    let again = try? RequestHeadParser.parse(ByteBuffer(string: written(parsed)).readableBytesView, maxBytes: .max, maxFields: .max)
    precondition(again.map { same($0, parsed) } ?? false, "a head changed when written out and read again: \(parsed)")
    return 0
}

private func written(_ head: HTTPRequestHead) -> String {
    "\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\r\n"
        + head.headers.map { "\($0.name): \($0.value)\r\n" }.joined() + "\r\n"
}

private func same(_ a: HTTPRequestHead, _ b: HTTPRequestHead) -> Bool {
    a.method == b.method && a.uri == b.uri && a.version == b.version
        && a.headers.map { [$0.name, $0.value] } == b.headers.map { [$0.name, $0.value] }
}
