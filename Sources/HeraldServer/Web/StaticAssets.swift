import Crypto
import Foundation
import HeraldCore
import Hummingbird

/// Serves the embedded script and stylesheet with an ETag, so browsers revalidate cheaply and
/// always pick up a new build.
struct StaticAssets {
    private struct Asset: Sendable {
        var contentType: String
        var body: ByteBuffer
        var etag: String
    }

    private let assets: [String: Asset]

    init() {
        assets = EmbeddedFiles.assets.mapValues { file in
            let digest = SHA256.hash(data: file.bytes).prefix(12).map { String(format: "%02x", $0) }.joined()
            return Asset(contentType: file.contentType, body: ByteBuffer(bytes: file.bytes), etag: "\"\(digest)\"")
        }
    }

    func addRoutes(to router: Router<HeraldRequestContext>) {
        for (path, asset) in assets {
            router.get(RouterPath(path)) { request, _ in
                var headers: HTTPFields = [.eTag: asset.etag, .cacheControl: "no-cache"]
                if request.headers[.ifNoneMatch] == asset.etag {
                    return Response(status: .notModified, headers: headers)
                }
                headers[.contentType] = asset.contentType
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
            }
        }
    }
}
