-- Several mini-programs on one backend (SPEC §10). wx_identity holds each
-- user's openid under each app and the unionid WeChat gave with it.
-- Identifiers compare as bytes (utf8mb4_bin): openids are case-sensitive.
-- unionid_claim holds the unionid on the one identity that claimed it for
-- its user: its unique key makes concurrent first logins of one person
-- through two apps meet on one row (the loser's duplicate key restarts its
-- login, which then finds the winner's user by unionid).
CREATE TABLE `wx_identity` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `user_id` int(11) NOT NULL,
  `appid` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `openid` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `unionid` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL,
  `unionid_claim` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT NULL,
  `created_at` datetime NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_wx_identity_app_openid` (`appid`, `openid`),
  UNIQUE KEY `uk_wx_identity_unionid_claim` (`unionid_claim`),
  KEY `idx_wx_identity_unionid` (`unionid`),
  KEY `idx_wx_identity_user` (`user_id`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci ROW_FORMAT = DYNAMIC;
-- The app a session was made through; '' for sessions made before this
-- step, which count as the default app's. Added last, so MariaDB 10.3+ and
-- MySQL 8.0 add it instantly, without copying wx_session.
ALTER TABLE `wx_session` ADD COLUMN `appid` varchar(64) NOT NULL DEFAULT '';
