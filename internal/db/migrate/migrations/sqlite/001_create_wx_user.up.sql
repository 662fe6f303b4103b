-- wx_user as the seed's DDL, in SQLite's types; no down.
CREATE TABLE wx_user (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username VARCHAR(63) NOT NULL,
  password VARCHAR(63) NOT NULL DEFAULT '',
  gender TINYINT NOT NULL DEFAULT 0,
  birthday DATE NULL DEFAULT NULL,
  last_login_time DATETIME NULL DEFAULT NULL,
  last_login_ip VARCHAR(63) NOT NULL DEFAULT '',
  user_level TINYINT NULL DEFAULT 0,
  nickname VARCHAR(63) NOT NULL DEFAULT '',
  mobile VARCHAR(20) NOT NULL DEFAULT '',
  avatar VARCHAR(255) NOT NULL DEFAULT '',
  weixin_openid VARCHAR(63) NOT NULL DEFAULT '',
  status TINYINT NOT NULL DEFAULT 0,
  add_time DATETIME NULL DEFAULT NULL,
  update_time DATETIME NULL DEFAULT NULL,
  deleted TINYINT NULL DEFAULT 0,
  share_user_id INTEGER NULL DEFAULT NULL
);
CREATE UNIQUE INDEX user_name ON wx_user (username);
