import Foundation
import Synchronization

/// The `Date` header's value (IMF-fixdate, RFC 9110), made once a second: every response an
/// origin server with a clock sends carries one, and formatting it per request would cost more
/// than some of those requests.
final class HTTPDate: Sendable {
    private let current = Mutex<(second: Int, text: String)>((-1, ""))

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Now, as a `Date` header says it.
    var now: String {
        let second = Int(Date().timeIntervalSince1970)
        if let text = current.withLock({ $0.second == second ? $0.text : nil }) { return text }
        let text = Self.format(second)
        current.withLock { $0 = (second, text) }
        return text
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for seconds since 1970.
    static func format(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
