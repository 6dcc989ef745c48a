import Foundation
import Logging
import Synchronization
import Testing

@testable import HeraldServer

/// Herald's log lines read as swift-log's own handler writes them, with the metadata of the
/// logger, of the call and of an error merged at the time of writing.
@Suite struct HeraldLogHandlerTests {
    struct Broken: Error {}

    @Test func aLineCarriesItsMetadataSortedAndTheCallsOwnWinning() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "herald") { label in
            HeraldLogHandler(label: label) { line in lines.withLock { $0.append(line) } }
        }
        logger[metadataKey: "request_id"] = "r-1"
        logger[metadataKey: "b"] = "from the logger"
        logger.info("hello", metadata: ["b": "from the call", "a": "1"])
        logger.debug("below the level: not written")
        logger[metadataKey: "request_id"] = nil
        logger.error("failed", error: Broken())
        let written = lines.withLock { $0 }
        #expect(written.count == 2)
        let first = try #require(written.first)
        #expect(first.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} info herald: a=1 b=from the call request_id=r-1 \[HeraldServerTests\] hello\n/) != nil, "\(first)")
        let second = try #require(written.last)
        #expect(second.contains(" error herald: b=from the logger error.message=") && second.contains("error.type=HeraldServerTests.HeraldLogHandlerTests.Broken"))
        #expect(!second.contains("request_id") && second.hasSuffix("[HeraldServerTests] failed\n"))
    }
}
