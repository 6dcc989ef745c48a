import HTTPHead
import NIOCore
import NIOHTTP1

/// libFuzzer entry point for the request head parser: the input is searched for a head's end, and
/// the head found (or the whole input) is parsed. Besides not crashing, the search must not read
/// past the limit, and a head that parses must parse to the same head once written out again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: start, count: count))
    let view = buffer.readableBytesView
    var head = view
    do {
        if let length = try RequestHeadParser.headLength(in: view) {
            precondition(length <= RequestHeadParser.maxBytes, "the head's end was found past the limit")
            head = view[view.startIndex..<(view.startIndex + length)]
        }
    } catch {
        precondition(count >= RequestHeadParser.maxBytes, "a head under the limit was called too large")
    }
    guard let parsed = try? RequestHeadParser.parse(head) else { return 0 }
    let again = try? RequestHeadParser.parse(ByteBuffer(string: written(parsed)).readableBytesView)
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
