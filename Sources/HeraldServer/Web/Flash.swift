import Foundation
import HeraldCore
import Hummingbird

/// A one-time notice shown on the next page ("Your message has been sent."), carried in a cookie
/// across the redirect and cleared once shown.
enum Flash {
    static let cookieName = "herald_flash"

    static func redirect(to location: String, saying message: String) -> Response {
        var response = Response.redirect(to: location, type: .normal)
        let encoded = Data(message.utf8).base64URLEncoded
        response.setCookie(Cookie(name: cookieName, value: encoded, path: "/", httpOnly: true, sameSite: .lax))
        return response
    }

    /// The pending message, if the request carries one.
    static func message(in request: Request) -> String? {
        guard let text = request.cookies[cookieName]?.value, !text.isEmpty else { return nil }
        return Data(base64URLEncoded: text).flatMap { String(data: $0, encoding: .utf8) }
    }

    static var cleared: Cookie {
        Cookie(name: cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .lax)
    }
}
