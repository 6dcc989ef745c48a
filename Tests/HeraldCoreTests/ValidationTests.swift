import Foundation
import HeraldCore
import Testing

@Suite struct ValidationTests {
    @Test(arguments: [
        ("0", Cursor.seq(0)), ("42", .seq(42)), ("1700000000.5", .timestamp(1_700_000_000.5)),
        ("0.0", .timestamp(0)), ("1e3", .timestamp(1000)),
    ])
    func cursorsParse(text: String, expected: Cursor) {
        #expect(Cursor(parsing: Substring(text)) == expected)
    }

    @Test(arguments: ["", "-1", "-0.5", "abc", "nan", "inf", "1e999", "+5", "99999999999999999999", " 1"])
    func badCursorsAreRefused(text: String) {
        #expect(Cursor(parsing: Substring(text)) == nil)
    }

    @Test func usernames() {
        #expect(Username.problem(with: "ada.lovelace-1_") == nil)
        #expect(Username.problem(with: "ab") != nil)
        #expect(Username.problem(with: String(repeating: "a", count: 33)) != nil)
        #expect(Username.problem(with: "émile") != nil)
        #expect(Username.problem(with: "a b c") != nil)
    }

    @Test func messageBodiesAreTrimmedAndCountedInCharacters() {
        #expect(MessageBody.validated("  hi \n", maxLength: 2) == .success("hi"))
        #expect(MessageBody.validated(" \n\t ", maxLength: 5) == .failure(.empty))
        #expect(MessageBody.validated("👩‍👩‍👧‍👦👩‍👩‍👧‍👦", maxLength: 2) == .success("👩‍👩‍👧‍👦👩‍👩‍👧‍👦"))
        #expect(MessageBody.validated("abc", maxLength: 2) == .failure(.tooLong(limit: 2)))
    }

    @Test func secretsAreRandomAndOnlyTheirDigestsMatch() {
        let a = Secret.generate(), b = Secret.generate()
        #expect(a != b && a.count == 43)
        #expect(Secret.digest(a) == Secret.digest(a) && Secret.digest(a) != Secret.digest(b))
        // The stored digests of every database depend on these staying exactly SHA-256 in hex.
        #expect(Secret.digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Secret.digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Secret.digest("hrd_é🎉") == "226e664c9bf80324e8dfb8632af4edc7f8aa5d9f01331108cc51bfacc3052d23")
        #expect(Secret.digest(String(repeating: "x", count: 1000)) == "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f")
        #expect(Secret.constantTimeEquals(a, a) && !Secret.constantTimeEquals(a, b) && !Secret.constantTimeEquals(a, ""))
    }
}

@Suite struct Base64URLTests {
    @Test func everyByteRoundTripsWithoutPaddingOrTheTwoUnsafeCharacters() {
        for length in 0..<70 {
            let data = Data((0..<length).map { UInt8(($0 * 37 + length) % 256) })
            let text = data.base64URLEncoded
            #expect(!text.contains("+") && !text.contains("/") && !text.contains("="))
            #expect(Data(base64URLEncoded: text) == data)
        }
        #expect(Data([0xfb, 0xff]).base64URLEncoded == "-_8")
    }
}
