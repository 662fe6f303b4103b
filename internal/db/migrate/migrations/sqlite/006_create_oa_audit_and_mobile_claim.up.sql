-- Who did what to which account (SPEC §11); see the MySQL step. No
-- foreign key on user_id: the trail outlives whatever happens to the row.
CREATE TABLE oa_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at DATETIME NOT NULL,
  actor VARCHAR(64) NOT NULL,
  action VARCHAR(16) NOT NULL,
  user_id INTEGER NULL DEFAULT NULL,
  session_ids VARCHAR(1024) NOT NULL DEFAULT '',
  session_count INTEGER NOT NULL DEFAULT 0,
  reason VARCHAR(255) NOT NULL DEFAULT ''
);
CREATE INDEX idx_oa_audit_created ON oa_audit (created_at);
CREATE INDEX idx_oa_audit_user_created ON oa_audit (user_id, created_at);
-- The point where two binds of one phone number meet (see the MySQL
-- step); on SQLite the one writer serialises them anyway.
CREATE TABLE oa_mobile_claim (
  mobile VARCHAR(20) NOT NULL PRIMARY KEY,
  user_id INTEGER NOT NULL,
  claimed_at DATETIME NOT NULL
);
