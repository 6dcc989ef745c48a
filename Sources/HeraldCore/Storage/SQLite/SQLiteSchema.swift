import GRDB

/// The SQLite schema, as an ordered list of migrations. Never edit a shipped migration: append one.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: users, messages, notifications, sessions, tokens") { db in
            try db.execute(sql: """
                CREATE TABLE user (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    password_hash TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    last_message_read_time REAL
                );
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    sender_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                    recipient_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                    body TEXT NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE INDEX message_by_recipient ON message(recipient_id, created_at);

                -- One row per stream: its cursor, and the highest seq lost to the retention.
                CREATE TABLE stream (
                    name TEXT PRIMARY KEY,
                    last_seq INTEGER NOT NULL,
                    evicted_through INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                CREATE TABLE notification (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    stream TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    mode TEXT NOT NULL CHECK (mode IN ('replace', 'append')),
                    data TEXT NOT NULL,
                    timestamp REAL NOT NULL,
                    UNIQUE (stream, seq)
                );
                CREATE UNIQUE INDEX notification_state ON notification(stream, name) WHERE mode = 'replace';

                CREATE TABLE session (
                    token_digest TEXT PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                    expires_at REAL NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE access_token (
                    token_digest TEXT PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                    label TEXT NOT NULL,
                    created_at REAL NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2: channels, members, server API keys") { db in
            try db.execute(sql: """
                CREATE TABLE channel (
                    name TEXT PRIMARY KEY,
                    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'members')),
                    created_at REAL NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE channel_member (
                    channel TEXT NOT NULL REFERENCES channel(name) ON DELETE CASCADE,
                    user_id INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
                    PRIMARY KEY (channel, user_id)
                ) WITHOUT ROWID;
                CREATE TABLE api_key (
                    key_digest TEXT PRIMARY KEY,
                    label TEXT NOT NULL,
                    created_at REAL NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3: unread count kept on the user") { db in
            // Counting unread messages on every send grew with the inbox; the count is now kept up
            // to date in the same transactions that change it, starting from the exact value.
            try db.execute(sql: """
                ALTER TABLE user ADD COLUMN unread_count INTEGER NOT NULL DEFAULT 0;
                UPDATE user SET unread_count = (
                    SELECT COUNT(*) FROM message m
                    WHERE m.recipient_id = user.id AND m.created_at > COALESCE(user.last_message_read_time, 0));
                """)
        }
        migrator.registerMigration("v4: events indexed for the retention") { db in
            // The retention ran on every event and read every event the stream kept (about 0.7 ms
            // at 1,000): each stream now counts its events, so the oldest past the count are found
            // from the start of the stream's seq index, and the aged through an index of the
            // events' times (one index more to write per event: a page of the journal).
            try db.execute(sql: """
                ALTER TABLE stream ADD COLUMN events INTEGER NOT NULL DEFAULT 0;
                UPDATE stream SET events = (
                    SELECT COUNT(*) FROM notification n WHERE n.stream = stream.name AND n.mode = 'append');
                CREATE INDEX notification_event_age ON notification(stream, timestamp) WHERE mode = 'append';
                """)
        }
        migrator.registerMigration("v5: notifications indexed by name") { db in
            // A state drops every notification of its name, events included: without this index
            // that read every event the stream kept, on every message to a user whose stream held
            // events (at 1,000 events a message cost 60 % more). One index more to write per
            // notification.
            try db.execute(sql: "CREATE INDEX notification_by_name ON notification(stream, name)")
        }
        return migrator
    }
}
