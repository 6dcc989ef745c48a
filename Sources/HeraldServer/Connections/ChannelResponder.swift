import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

extension HTTPResponder where Context: InitializableFromSource<ApplicationRequestContextSource> {
    /// What Hummingbird's HTTP/1 handling calls for each request it reads: this responder (a
    /// router), its answer stamped with `Date` and `Server`. It is what Hummingbird's `Application`
    /// builds around a router; `ConnectionServer` runs the connections, so it is built here.
    func channelResponder(serverName: String, date: HTTPDate, logger: Logger) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
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
