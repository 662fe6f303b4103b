-- One row per login on one device. Times are UTC text 'YYYY-MM-DD HH:MM:SS'
-- (fixed width, so text order is time order).
CREATE TABLE wx_session (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token_hash CHAR(64) NOT NULL,
  user_id INTEGER NOT NULL REFERENCES wx_user (id) ON DELETE CASCADE,
  session_key VARCHAR(255) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  last_seen_at DATETIME NOT NULL,
  revoked_at DATETIME NULL DEFAULT NULL,
  revoke_reason VARCHAR(255) NOT NULL DEFAULT '',
  ip VARCHAR(63) NOT NULL DEFAULT '',
  user_agent VARCHAR(255) NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX uk_wx_session_token_hash ON wx_session (token_hash);
CREATE INDEX idx_wx_session_user_created ON wx_session (user_id, created_at);
CREATE INDEX idx_wx_session_expires ON wx_session (expires_at);
CREATE INDEX idx_wx_session_created_id ON wx_session (created_at, id);
