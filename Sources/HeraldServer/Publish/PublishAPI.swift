import Foundation
import HeraldCore
import Hummingbird
import NIOFoundationCompat

/// `POST /api/publish {user | users | channel, name, data, mode}`: how other backends notify users
/// and channels. Persists, then delivers, and answers the assigned seq(s).
struct PublishAPI {
    let herald: Herald

    func addRoutes(to router: Router<HeraldRequestContext>) {
        router.post("/api/publish", use: publish)
    }

    @Sendable func publish(_ request: Request, context: HeraldRequestContext) async throws -> Response {
        guard context.credential != nil else { throw HeraldError.unauthorized() }
        let body = try await request.body.collect(upTo: herald.configuration.maxRequestBody)
        let publication = try Publication(parsing: Data(buffer: body))
        switch try await Publisher(herald: herald).publish(
            publication, by: context.identity, isServerKey: context.isServerKey, publisher: context.publisherKey)
        {
        case .seq(let seq): return JSONResponse.seq(seq, status: .created)
        case .seqs(let seqs): return try JSONResponse.encode(["seqs": seqs], status: .created)
        }
    }
}
