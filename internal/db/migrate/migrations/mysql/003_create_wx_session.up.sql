-- One row per login on one device. Times are UTC. The token itself is
-- never stored, only its hex SHA-256. session_key holds the sealed key
-- (longer than WeChat's 24 characters) when a key secret is configured.
CREATE TABLE `wx_session` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `token_hash` char(64) NOT NULL,
  `user_id` int(11) NOT NULL,
  `session_key` varchar(255) NOT NULL DEFAULT '',
  `created_at` datetime NOT NULL,
  `expires_at` datetime NOT NULL,
  `last_seen_at` datetime NOT NULL,
  `revoked_at` datetime NULL DEFAULT NULL,
  `revoke_reason` varchar(255) NOT NULL DEFAULT '',
  `ip` varchar(63) NOT NULL DEFAULT '',
  `user_agent` varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_wx_session_token_hash` (`token_hash`),
  KEY `idx_wx_session_user_created` (`user_id`, `created_at`),
  KEY `idx_wx_session_expires` (`expires_at`),
  KEY `idx_wx_session_created_id` (`created_at`, `id`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci ROW_FORMAT = DYNAMIC;
