DROP INDEX `idx_wx_user_weixin_openid` ON `wx_user`;
