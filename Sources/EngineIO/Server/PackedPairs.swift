/// Name/value pairs in one array of bytes: each string as its UTF-8 length (four bytes, little
/// endian) and then its bytes. Any string fits, separators included, in one allocation.
struct PackedPairs: Sendable {
    private let bytes: [UInt8]
    /// How many pairs it holds.
    let count: Int

    init(_ pairs: [(key: String, value: String)]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(pairs.reduce(0) { $0 + 8 + $1.key.utf8.count + $1.value.utf8.count })
        for (name, value) in pairs {
            Self.append(name, to: &bytes)
            Self.append(value, to: &bytes)
        }
        self.bytes = bytes
        self.count = pairs.count
    }

    /// The pairs at these positions, as a dictionary (the last of a repeated name wins).
    func dictionary(of positions: Range<Int>) -> [String: String] {
        var pairs: [String: String] = [:]
        forEach(in: positions) { name, value in
            pairs[String(decoding: name, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
        }
        return pairs
    }

    /// The value of the first pair at these positions named `name`.
    func value(for name: String, in positions: Range<Int>) -> String? {
        var found: String?
        let wanted = Array(name.utf8)
        forEach(in: positions) { candidate, value in
            if found == nil, candidate.elementsEqual(wanted) { found = String(decoding: value, as: UTF8.self) }
        }
        return found
    }

    private func forEach(in positions: Range<Int>, _ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) -> Void) {
        var index = bytes.startIndex
        func next() -> ArraySlice<UInt8> {
            let count = bytes[index..<index + 4].reversed().reduce(0) { $0 << 8 | Int($1) }
            defer { index += 4 + count }
            return bytes[index + 4..<index + 4 + count]
        }
        for position in 0..<positions.upperBound {
            let name = next()
            let value = next()
            if position >= positions.lowerBound { body(name, value) }
        }
    }

    private static func append(_ string: String, to bytes: inout [UInt8]) {
        let count = UInt32(string.utf8.count)
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: count >> UInt32(shift))) }
        bytes.append(contentsOf: string.utf8)
    }
}
