-- WARNING: users who came through an app other than the default one, or
-- were linked by unionid, become new users at their next login.
ALTER TABLE `wx_session` DROP COLUMN `appid`;
DROP TABLE `wx_identity`;
