extension JSONValue {
    /// The text of the value of `key` in the JSON object `text`, exactly as sent but for the
    /// whitespace between tokens, which is dropped: numbers keep every digit, strings every escape,
    /// objects the order of their keys. When the key is given more than once, the last value (as
    /// Foundation's parser keeps it). Nil if `text` is not an object or has no such member.
    ///
    /// Meant for text that `JSONValue(parsing:)` accepted: it scans, it does not validate. On
    /// anything else it returns nil or some text, never reads out of bounds.
    public static func compactText(ofMember key: String, in text: Substring) -> String? {
        var scanner = JSONScanner(bytes: Array(text.utf8))
        return scanner.compactMember(key)
    }
}

/// Finds the bounds of JSON values in text already known to be JSON.
private struct JSONScanner {
    let bytes: [UInt8]
    var index = 0

    mutating func compactMember(_ key: String) -> String? {
        skipWhitespace()
        guard byte == UInt8(ascii: "{") else { return nil }
        index += 1
        var found: Range<Int>?
        while true {
            skipWhitespace()
            guard let current = byte else { return nil }
            if current == UInt8(ascii: "}") { break }
            guard current == UInt8(ascii: "\""), let keyEnd = stringEnd(from: index) else { return nil }
            let keyText = index..<keyEnd
            index = keyEnd
            skipWhitespace()
            guard byte == UInt8(ascii: ":") else { return nil }
            index += 1
            skipWhitespace()
            let valueStart = index
            guard let valueEnd = valueEnd(from: index) else { return nil }
            if self.key(keyText) == key { found = valueStart..<valueEnd }
            index = valueEnd
            skipWhitespace()
            if byte == UInt8(ascii: ",") { index += 1 } else { break }
        }
        return found.map(compacted)
    }

    private var byte: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte, Self.isWhitespace(byte) { index += 1 }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Just past the string whose opening quote is at `start`.
    private func stringEnd(from start: Int) -> Int? {
        var string = JSONStringState()
        for position in start..<bytes.count {
            _ = string.consume(bytes[position])
            if !string.isInString { return position + 1 }
        }
        return nil
    }

    /// Just past the value that starts at `start`.
    private func valueEnd(from start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return stringEnd(from: start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var string = JSONStringState()
            for position in start..<bytes.count where !string.consume(bytes[position]) {
                switch bytes[position] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return position + 1 }
                default:
                    break
                }
            }
            return nil
        default:
            // A number or a literal: up to what ends a value.
            var position = start
            while position < bytes.count, !Self.isWhitespace(bytes[position]),
                ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(bytes[position])
            {
                position += 1
            }
            return position
        }
    }

    /// A member's name, unescaped when it has escapes.
    private func key(_ range: Range<Int>) -> String? {
        let quoted = bytes[range]
        guard quoted.contains(UInt8(ascii: "\\")) else {
            return String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
        }
        return JSONValue(parsing: Substring(String(decoding: quoted, as: UTF8.self)))?.stringValue
    }

    /// The value's text without the whitespace between its tokens.
    private func compacted(_ range: Range<Int>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(range.count)
        var string = JSONStringState()
        for byte in bytes[range] where string.consume(byte) || !Self.isWhitespace(byte) {
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
