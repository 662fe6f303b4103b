-- Logins look users up by openid; not unique, because an adopted table may
-- hold several rows per openid (the lowest id with deleted = 0 wins).
CREATE INDEX `idx_wx_user_weixin_openid` ON `wx_user` (`weixin_openid`);
