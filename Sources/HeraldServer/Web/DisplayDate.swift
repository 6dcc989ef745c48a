import Foundation

/// How pages show a moment: ISO 8601 for machines, minutes in UTC for people.
enum DisplayDate {
    static func iso(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    static func human(_ date: Date) -> String {
        let iso = date.formatted(.iso8601)  // 2026-11-22T01:43:02Z
        return iso.prefix(10) + " " + iso.dropFirst(11).prefix(5) + " UTC"
    }
}
