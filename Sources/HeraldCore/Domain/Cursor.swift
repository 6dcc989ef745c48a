/// Where a reader resumes a stream: after a `seq`, or, for clients of the seeds' API, after a
/// float unix timestamp.
public enum Cursor: Sendable, Equatable {
    case seq(Int64)
    case timestamp(Double)

    public static let beginning = Cursor.seq(0)

    /// Parses the `since` parameter: digits alone are a seq, a number with a fraction or an
    /// exponent is a timestamp. Negative, non-finite and non-numeric values are refused.
    public init?(parsing text: Substring) {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard let seq = Int64(text) else { return nil }
            self = .seq(seq)
        } else if let value = Double(text), value.isFinite, value >= 0, text.first != "+" {
            self = .timestamp(value)
        } else {
            return nil
        }
    }
}
