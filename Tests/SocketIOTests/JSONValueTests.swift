import Foundation
import NIOCore
import Testing

@testable import SocketIO

@Suite struct JSONValueTests {
    @Test func objectsKeepTheirKeyOrderAndNumbersTheirJavaScriptForm() throws {
        let text = #"{"z":1,"a":[true,false,null],"m":{"3":[1.5,-2,1e3]},"s":"q\"\\\n\u00e9\ud83d\ude00"}"#
        let value = try #require(JSONValue(parsing: Substring(text)))
        #expect(value.description == #"{"z":1,"a":[true,false,null],"m":{"3":[1.5,-2,1000]},"s":"q\"\\\né😀"}"#)
        #expect(value["z"] == 1)
        #expect(value["s"]?.stringValue == "q\"\\\né😀")
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":1,}", "{'a':1}", "[1 2]", "01", "1.", ".5", "-", "1e", "tru", "nul",
        "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "\"a\u{01}\"", "[1]x", "{\"a\"}", "\"unterminated",
        "NaN", "Infinity", "+1", "\u{feff}1", "1e400", "[-3e22222]",
    ])
    func malformedJSONIsRefused(_ text: String) {
        #expect(JSONValue(parsing: Substring(text)) == nil)
    }

    @Test func deepNestingIsRefusedNotRecursedInto() {
        #expect(JSONValue(parsing: Substring(String(repeating: "[", count: 100_000))) == nil)
        #expect(JSONValue(parsing: Substring(String(repeating: "[", count: 50) + String(repeating: "]", count: 50))) != nil)
        #expect(JSONValue(parsing: Substring(String(repeating: "[", count: 200) + String(repeating: "]", count: 200))) == nil)
    }

    @Test func controlCharactersAreEscapedWhenWritten() {
        #expect(JSONValue.string("a\u{01}\t\"").description == #""a\u0001\t\"""#)
        #expect(JSONValue.number(.infinity).description == "null")
        #expect(JSONValue.number(12345678901234).description == "12345678901234")
    }

    @Test func literalsBuildValues() {
        let value: JSONValue = ["data": "Connected", "count": 0, "list": [1, nil, true]]
        #expect(value.description == #"{"data":"Connected","count":0,"list":[1,null,true]}"#)
    }

    @Test func aMembersTextIsKeptAsSentWithoutItsWhitespace() throws {
        let text = #"""
            { "name" : "x", "data" : { "id" : 12345678901234567890, "f": 1.0e2 ,
              "s": "a \" b\u00e9 \n}", "list": [ 1 , [ ], { } ] }, "other": true }
            """#
        #expect(JSONValue.compactText(ofMember: "name", in: text[...]) == #""x""#)
        #expect(JSONValue.compactText(ofMember: "data", in: text[...])
            == #"{"id":12345678901234567890,"f":1.0e2,"s":"a \" b\u00e9 \n}","list":[1,[],{}]}"#)
        // Given twice (the second time spelled with an escape), the last is the one kept.
        let twice = text.replacingOccurrences(of: #""other""#, with: #""\u0064ata""#)
        #expect(JSONValue.compactText(ofMember: "data", in: twice[...]) == "true")
        #expect(JSONValue.compactText(ofMember: "missing", in: text[...]) == nil)
        #expect(JSONValue.compactText(ofMember: "data", in: "[1, 2]") == nil)
        #expect(JSONValue.compactText(ofMember: "data", in: #"{"data": -0 }"#) == "-0")
    }

    @Test(arguments: ["", "{", #"{"data""#, #"{"data":"#, #"{"data": "unterminated"#, #"{"data": [1, {"a": [}"#, #"""#, #"{"\"#])
    func truncatedOrHostileTextGivesNilOrTextNeverACrash(_ text: String) {
        let member = JSONValue.compactText(ofMember: "data", in: Substring(text))
        #expect(member == nil || member?.isEmpty == false)
    }

    @Test func theStringStateMarksEveryByteOfAStringAndNothingElse() {
        // Escaped quotes and an escaped backslash before the closing quote, brackets inside.
        let text = #"["a\"b", "{\\", "x\\"] "#
        var state = JSONStringState()
        let marks = text.utf8.map { state.consume($0) ? "s" : "-" }.joined()
        #expect(marks == "-ssssss--sssss--sssss--")
        #expect(!state.isInString)
        var open = JSONStringState()
        for byte in #"{"unterminated \""#.utf8 { _ = open.consume(byte) }
        #expect(open.isInString)
    }
}
