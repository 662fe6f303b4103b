-- Several mini-programs on one backend (SPEC §10). wx_identity holds each
-- user's openid under each app and the unionid WeChat gave with it.
-- unionid_claim holds the unionid on the one identity that claimed it for
-- its user (see the MySQL step: its unique key makes concurrent first
-- logins of one person through two apps make one user).
CREATE TABLE wx_identity (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES wx_user (id) ON DELETE CASCADE,
  appid VARCHAR(64) NOT NULL,
  openid VARCHAR(64) NOT NULL,
  unionid VARCHAR(64) NULL DEFAULT NULL,
  unionid_claim VARCHAR(64) NULL DEFAULT NULL,
  created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_wx_identity_app_openid ON wx_identity (appid, openid);
CREATE UNIQUE INDEX uk_wx_identity_unionid_claim ON wx_identity (unionid_claim);
CREATE INDEX idx_wx_identity_unionid ON wx_identity (unionid);
CREATE INDEX idx_wx_identity_user ON wx_identity (user_id);
-- The app a session was made through; '' for sessions made before this
-- step, which count as the default app's.
ALTER TABLE wx_session ADD COLUMN appid VARCHAR(64) NOT NULL DEFAULT '';
