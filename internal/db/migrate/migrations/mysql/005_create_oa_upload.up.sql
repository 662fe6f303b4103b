-- One row per uploaded avatar file: its key (the file name under
-- --storage-dir), its owner, size and upload time (UTC). serve deletes a
-- file that no wx_user.avatar points at --upload-retention after upload;
-- cancelling an account deletes its owner's files.
CREATE TABLE `oa_upload` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `file_key` varchar(64) NOT NULL,
  `user_id` int(11) NOT NULL,
  `size` int NOT NULL,
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_oa_upload_file_key` (`file_key`),
  KEY `idx_oa_upload_user_created` (`user_id`, `created_at`),
  KEY `idx_oa_upload_created` (`created_at`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci ROW_FORMAT = DYNAMIC;
