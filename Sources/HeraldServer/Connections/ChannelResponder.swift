import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

extension HTTPResponder where Context: InitializableFromSource<ApplicationRequestContextSource> {
    /// This responder's (a router's) answer to `request` as Hummingbird's `Application` gives it:
    /// a request id in the log metadata, a 500 for an error no middleware turned into an answer,
    /// `Date` and `Server` set. Only a parse error of the request's body is thrown, for
    /// Hummingbird's HTTP/1 handling to answer 400 itself.
    func answer(_ request: Request, channel: any Channel, serverName: String, date: HTTPDate, logger: Logger)
        async throws(HTTPParserError) -> Response
    {
        var logger = logger
        logger[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
        let context = Context(source: .init(channel: channel, logger: logger))
        var response: Response
        do {
            response = try await respond(to: request, context: context)
        } catch let error as HTTPParserError {
            throw error
        } catch {
            logger.debug("Unrecognised Error", metadata: ["error.type": "\(error)"])
            response = Response(status: .internalServerError, body: .init())
        }
        response.headers[.date] = date.now
        response.headers[.server] = serverName
        return response
    }

    /// What Hummingbird's HTTP/1 handling calls for each request it reads: `answer`, written.
    /// It is what Hummingbird's `Application` builds around a router; `ConnectionServer` runs the
    /// connections, so it is built here.
    func channelResponder(serverName: String, date: HTTPDate, logger: Logger) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            let response = try await answer(request, channel: channel, serverName: serverName, date: date, logger: logger)
            do {
                try await writer.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                // Hummingbird answers a parse error with a 400 of its own; one that comes while
                // this response is written must end the connection instead of answering twice.
                throw ParseErrorWhileWriting()
            }
        }
    }
}

/// The request's bytes turned out malformed while its response was being written.
struct ParseErrorWhileWriting: Error {}
