import Hummingbird
import Testing

@testable import HeraldServer

/// The ids requests are logged and answered with.
@Suite struct RequestLogMiddlewareTests {
    typealias Middleware = RequestLogMiddleware<HeraldRequestContext>

    @Test func aMadeIdIsAlways32HexDigits() {
        // Hummingbird writes its per-process half without leading zeros.
        #expect(Middleware.padded("a449643b8651a811ea2c6601d8ce6c8") == "0a449643b8651a811ea2c6601d8ce6c8")
        #expect(Middleware.padded("fa449643b8651a811ea2c6601d8ce6c8") == "fa449643b8651a811ea2c6601d8ce6c8")
        #expect(Middleware.padded(RequestID().description).utf8.count == 32)
    }

    @Test(arguments: ["req-7f3a.e2e_1", String(repeating: "x", count: 128)])
    func aPlainClientIdIsKept(id: String) {
        #expect(Middleware.accepted(id) == id)
    }

    @Test(arguments: ["", "a b", "<script>", "é", String(repeating: "x", count: 129), "line\nbreak"])
    func anythingElseIsReplaced(id: String) {
        #expect(Middleware.accepted(id) == nil)
    }
}
