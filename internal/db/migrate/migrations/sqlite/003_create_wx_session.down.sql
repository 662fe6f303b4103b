-- WARNING: dropping wx_session logs everyone out.
DROP TABLE wx_session;
