/// Follows JSON text byte by byte and tells which bytes belong to a string literal: the one
/// in-string and escape state machine of every scan that must not read brackets, commas or
/// whitespace inside strings (a value's bounds, its compact text, a body's nesting depth).
///
/// It tracks strings only; it does not validate. Fed text that is not JSON it still answers for
/// every byte, so scans of hostile input end where their input ends.
public struct JSONStringState: Sendable {
    /// Whether the bytes consumed so far end inside a string literal (after its opening quote,
    /// before its closing one).
    public private(set) var isInString = false
    private var escaped = false

    public init() {}

    /// Takes the next byte; true when it belongs to a string literal, its two quotes included.
    public mutating func consume(_ byte: UInt8) -> Bool {
        guard isInString else {
            if byte == UInt8(ascii: "\"") { isInString = true }
            return isInString
        }
        if escaped {
            escaped = false
        } else if byte == UInt8(ascii: "\\") {
            escaped = true
        } else if byte == UInt8(ascii: "\"") {
            isInString = false
        }
        return true
    }
}
