#!/usr/bin/env bash
# deploy/secrets.sh: makes the secret files deploy/docker-compose.yml reads,
# once (existing files are kept): random MariaDB passwords, the DSN oactl
# connects with, a session-key secret, and the app secret, which you paste.
#
#   deploy/secrets.sh            (asks for the app secret on a terminal)
#   deploy/secrets.sh < secret   (reads it from stdin)
set -euo pipefail
cd "$(dirname "$0")"
umask 077
mkdir -p secrets

rand() { head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32; }
[ -s secrets/db_password ] || rand >secrets/db_password
[ -s secrets/db_root_password ] || rand >secrets/db_root_password
[ -s secrets/oactl_db ] || printf 'mysql://oa:%s@mariadb:3306/oa\n' "$(cat secrets/db_password)" >secrets/oactl_db
# 32 random bytes; oactl refuses a session-key secret shorter than 32.
[ -s secrets/session_key_secret ] || head -c 32 /dev/urandom | base64 >secrets/session_key_secret
if [ ! -s secrets/wx_app_secret ]; then
	if [ -t 0 ]; then
		read -r -s -p "app secret of the mini-program (mp.weixin.qq.com > 开发管理 > 开发设置): " secret
		echo
	else
		read -r secret
	fi
	[ -n "$secret" ] || { echo "deploy/secrets.sh: no app secret given" >&2; exit 1; }
	printf '%s\n' "$secret" >secrets/wx_app_secret
fi
ls -l secrets
