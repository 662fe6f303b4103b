-- One row per uploaded avatar file: its key (the file name under
-- --storage-dir), its owner, size and upload time (UTC text). serve deletes
-- a file that no wx_user.avatar points at --upload-retention after upload;
-- cancelling an account deletes its owner's files. No foreign key: a
-- cascade would drop the record and leave the file behind.
CREATE TABLE oa_upload (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  file_key VARCHAR(64) NOT NULL,
  user_id INTEGER NOT NULL,
  size INTEGER NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX uk_oa_upload_file_key ON oa_upload (file_key);
CREATE INDEX idx_oa_upload_user_created ON oa_upload (user_id, created_at);
CREATE INDEX idx_oa_upload_created ON oa_upload (created_at);
