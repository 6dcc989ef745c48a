import Foundation

/// Validation of a private message's text.
public enum MessageBody {
    public enum Problem: Error, Equatable {
        case empty
        case tooLong(limit: Int)

        public var explanation: String {
            switch self {
            case .empty: "The message is empty."
            case .tooLong(let limit): "The message is longer than \(limit) characters."
            }
        }
    }

    /// The trimmed body, or the reason it cannot be sent. Length is counted in characters
    /// (grapheme clusters), as a person would count them.
    public static func validated(_ raw: String, maxLength: Int) -> Result<String, Problem> {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .failure(.empty) }
        if trimmed.count > maxLength { return .failure(.tooLong(limit: maxLength)) }
        return .success(trimmed)
    }
}
