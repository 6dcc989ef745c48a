import Hummingbird

/// The files under `Resources/`, compiled into the binary by SwiftPM's `embedInCode`.
enum EmbeddedFiles {
    static let templates: [String: [UInt8]] = [
        "layout": PackageResources.layout_mustache,
        "pager": PackageResources.pager_mustache,
        "index": PackageResources.index_mustache,
        "login": PackageResources.login_mustache,
        "register": PackageResources.register_mustache,
        "logout": PackageResources.logout_mustache,
        "users": PackageResources.users_mustache,
        "user": PackageResources.user_mustache,
        "send_message": PackageResources.send_message_mustache,
        "messages": PackageResources.messages_mustache,
        "error": PackageResources.error_mustache,
        "rooms": PackageResources.rooms_mustache,
        "room": PackageResources.room_mustache,
        "socketio_demo": PackageResources.socketio_demo_mustache,
    ]

    /// Static assets by URL path, with their content type.
    static let assets: [String: (contentType: String, bytes: [UInt8])] = [
        "/static/herald.js": ("text/javascript; charset=utf-8", PackageResources.herald_js),
        "/static/herald.css": ("text/css; charset=utf-8", PackageResources.herald_css),
        "/static/favicon.svg": ("image/svg+xml", PackageResources.favicon_svg),
        "/static/socketio-demo.js": ("text/javascript; charset=utf-8", PackageResources.socketio_demo_js),
        "/openapi.json": ("application/json", PackageResources.openapi_json),
    ]
}
