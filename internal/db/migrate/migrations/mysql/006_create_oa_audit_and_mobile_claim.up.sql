-- Who did what to which account (SPEC §11): one row per support action
-- (sessions revoke, purge and rekey; users disable, enable and cancel)
-- and per self-cancel, written in the transaction of the change. Times
-- are UTC. session_ids lists the sessions an action revoked, comma-
-- separated, as many as fit (session_count is always the whole count).
-- Nothing secret is ever written here: no token, session_key or openid.
CREATE TABLE `oa_audit` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `created_at` datetime NOT NULL,
  `actor` varchar(64) NOT NULL,
  `action` varchar(16) NOT NULL,
  `user_id` int(11) NULL DEFAULT NULL,
  `session_ids` varchar(1024) NOT NULL DEFAULT '',
  `session_count` bigint NOT NULL DEFAULT 0,
  `reason` varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (`id`),
  KEY `idx_oa_audit_created` (`created_at`),
  KEY `idx_oa_audit_user_created` (`user_id`, `created_at`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci ROW_FORMAT = DYNAMIC;
-- One row per phone number ever bound through oactl: the point where two
-- binds of one number meet. bindPhone writes the number's row first and
-- checks wx_user.mobile after, in one transaction, so a second bind waits
-- for the first (one server) or fails certification and is retried
-- (Galera, TiDB), and then sees the first one's number. wx_user.mobile
-- stays the truth; user_id here is only the last binder.
CREATE TABLE `oa_mobile_claim` (
  `mobile` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `user_id` int(11) NOT NULL,
  `claimed_at` datetime NOT NULL,
  PRIMARY KEY (`mobile`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci ROW_FORMAT = DYNAMIC;
