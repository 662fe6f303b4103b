package config

// DevAppID is the appid `oactl dev` gives both sides, so that openids stay
// the same across restarts on one database; `mockwx openid` defaults to it.
const DevAppID = "wxoactldev00000000"

// Setting is one row of the settings table: everything about one setting
// of the commands named in Commands. Its value comes from the flag --Name,
// else from the environment variable Env, else from the key YAML of the
// configuration file, else from Default; the flag's own parser reads every
// source, so a value means the same wherever it is written.
type Setting struct {
	// Name is the flag's name, and the name a command binds it by.
	Name string
	// NoFlag: read from Env and YAML only. Secrets are like this, because
	// a flag shows in process listings.
	NoFlag bool
	// Env is the OA_* variable: the flag's name upper-cased with '-' made
	// '_', except for the historical names (OA_WX_APP_ID, ...).
	Env string
	// YAML is the dotted key, under oa:, matched the way Spring's relaxed
	// binding matches. Empty only for the setting that names the file.
	YAML string
	// Default is the value when no source gives one, as text the flag's
	// parser reads ("" is the type's zero value).
	Default string
	// Usage is the flag's help text and the docs' "meaning".
	Usage string
	// Commands are the command paths that take the setting ("serve",
	// "sessions rekey", ...). A command binds only the settings listed for
	// it, so this column is what the commands really read.
	Commands []string
	// Secret values are never echoed, in errors or anywhere else.
	Secret bool
	// Hidden flags work but are left out of --help.
	Hidden bool
	// Pair, when set, lets the YAML key also be a list of mappings with
	// these two keys, each read as "KEY=VALUE" (see File.LookupPairs).
	Pair [2]string
}

// appPair are the keys of an entry of oa.wx.apps.
var appPair = [2]string{"app-id", "app-secret"}

// Table is a list of settings; Settings is oactl's.
type Table []Setting

// The command paths of the table, so that a typo fails to compile.
const (
	cmdServe          = "serve"
	cmdDev            = "dev"
	cmdMockwx         = "mockwx"
	cmdMockwxOpenID   = "mockwx openid"
	cmdMigrate        = "migrate"
	cmdSessions       = "sessions"
	cmdSessionsList   = "sessions list"
	cmdSessionsRevoke = "sessions revoke"
	cmdSessionsPurge  = "sessions purge"
	cmdSessionsRekey  = "sessions rekey"
	cmdUsersList      = "users list"
	cmdUsersShow      = "users show"
	cmdUsersDisable   = "users disable"
	cmdUsersEnable    = "users enable"
	cmdUsersCancel    = "users cancel"
	cmdAuditList      = "audit list"
)

var (
	serveAndDev = []string{cmdServe, cmdDev}
	// The commands that work on a database. The sessions subcommands
	// each take --db themselves, so that each is a command of its own.
	databaseCmds = []string{cmdServe, cmdDev, cmdMigrate, cmdSessions, cmdSessionsList, cmdSessionsRevoke, cmdSessionsPurge, cmdSessionsRekey,
		cmdUsersList, cmdUsersShow, cmdUsersDisable, cmdUsersEnable, cmdUsersCancel, cmdAuditList}
	// The commands that change accounts or sessions for someone: each
	// writes an audit row naming its actor.
	auditedCmds = []string{cmdSessions, cmdSessionsRevoke, cmdSessionsPurge, cmdSessionsRekey, cmdUsersDisable, cmdUsersEnable, cmdUsersCancel}
	// The commands that read or write wx_user's datetimes, which are in
	// the configured zone.
	userTimeCmds = []string{cmdServe, cmdDev, cmdSessions, cmdUsersList, cmdUsersShow, cmdUsersDisable, cmdUsersEnable, cmdUsersCancel}
	configCmds   = append(append([]string{}, databaseCmds...), cmdMockwx, cmdMockwxOpenID)
	// The commands that write a log.
	logCmds = []string{cmdServe, cmdDev, cmdMockwx, cmdMigrate}
)

// Settings is every setting of every command: the flags are registered
// from it, the environment and the YAML file are read through it, and
// docs/CONFIG.md's table is written from it (a test keeps them equal).
// Adding a setting is one row here plus one Bind line in the command.
//
// Not here: what one invocation acts on or prints (migrate --to, --yes,
// --dry-run, --json; sessions list --state, --user, --search, --limit;
// revoke's ids and --reason; purge --expired-before; users list's and
// audit list's filters; users disable/enable/cancel's ids, --reason,
// --yes). Those are arguments, not configuration: an OA_YES in the
// environment would answer prompts nobody saw. --actor is a setting: who
// runs the commands is the same for a whole session of work.
var Settings = Table{
	{Name: "config", Env: "OA_CONFIG", Commands: configCmds,
		Usage: "YAML configuration file (the seed's application.yml layout works)"},

	// serve and dev.
	{Name: "addr", Env: "OA_ADDR", YAML: "oa.addr", Default: "127.0.0.1:8080", Commands: serveAndDev,
		Usage: "address the login server listens on (host:port)"},
	{Name: "db", Env: "OA_DB", YAML: "oa.db", Default: "sqlite:oactl.db", Commands: databaseCmds, Secret: true,
		Usage: "database: sqlite:PATH, mysql://user:pass@host:port/db or a go-sql-driver DSN (see docs/STORAGE.md); with --config, spring.datasource when no source names one; a password belongs in OA_DB, not the flag"},
	{Name: "wx-base-url", Env: "OA_WX_BASE_URL", YAML: "oa.wx.base-url", Default: "https://api.weixin.qq.com", Commands: serveAndDev,
		Usage: "WeChat API base URL (dev: its own mockwx unless set); https unless loopback, because the secret travels in the query"},
	{Name: "appid", Env: "OA_WX_APP_ID", YAML: "oa.wx.app-id", Commands: []string{cmdServe},
		Usage: "the mini-program's appid (required)"},
	{Name: "appid", Env: "OA_WX_APP_ID", YAML: "oa.wx.app-id", Default: DevAppID, Commands: []string{cmdDev, cmdMockwxOpenID},
		Usage: "the mini-program's appid; dev's default keeps openids stable across restarts"},
	{Name: "app-secret", NoFlag: true, Env: "OA_WX_APP_SECRET", YAML: "oa.wx.app-secret", Commands: serveAndDev, Secret: true,
		Usage: "the app secret (required; dev makes one up and shares it with its mockwx); no flag, so it never shows in ps"},
	{Name: "apps", NoFlag: true, Env: "OA_WX_APPS", YAML: "oa.wx.apps", Commands: serveAndDev, Secret: true, Pair: appPair,
		Usage: "more mini-programs on this backend: APPID=SECRET,... (YAML: a list of {app-id, app-secret}); a request's WeChat Referer picks its app (docs/APPS.md)"},
	{Name: "token-ttl", Env: "OA_TOKEN_TTL", YAML: "oa.token-ttl", Default: "24h", Commands: serveAndDev,
		Usage: "idle timeout of a token: a request made when less than half of it remains renews the token to now + this (at least 1s)"},
	{Name: "token-max-age", Env: "OA_TOKEN_MAX_AGE", YAML: "oa.token-max-age", Default: "720h", Commands: serveAndDev,
		Usage: "no token lives longer than this after its login, however much it is used; equal to --token-ttl turns renewal off"},
	{Name: "max-sessions-per-user", Env: "OA_MAX_SESSIONS_PER_USER", YAML: "oa.max-sessions-per-user", Default: "0", Commands: serveAndDev,
		Usage: "a login that would leave a user more active sessions revokes the oldest (reason \"session limit\"); 1: single-device login; 0: no limit"},
	{Name: "wx-timeout", Env: "OA_WX_TIMEOUT", YAML: "oa.wx.timeout", Default: "4s", Commands: serveAndDev,
		Usage: "timeout of each call to WeChat; keep it under the mini-program's 6s"},
	{Name: "login-rate", Env: "OA_LOGIN_RATE", YAML: "oa.login-rate", Default: "10", Commands: serveAndDev,
		Usage: "logins per second per client address, IPv6 clients per /64 (burst twice that); 0 turns the limit off"},
	{Name: "upload-rate", Env: "OA_UPLOAD_RATE", YAML: "oa.upload-rate", Default: "10", Commands: serveAndDev,
		Usage: "avatar uploads per user per minute (at once up to that many); 0 turns the limit off"},
	{Name: "bind-phone-rate", Env: "OA_BIND_PHONE_RATE", YAML: "oa.bind-phone-rate", Default: "5", Commands: serveAndDev,
		Usage: "bindPhone requests per user per minute (at once up to that many); 0 turns the limit off"},
	{Name: "trusted-proxy", Env: "OA_TRUSTED_PROXY", YAML: "oa.trusted-proxy", Commands: serveAndDev,
		Usage: "address or CIDR of a reverse proxy whose X-Forwarded-For is believed (repeatable, comma-separated or a YAML list)"},
	{Name: "time-zone", Env: "OA_TIME_ZONE", YAML: "oa.time-zone", Default: "Local", Commands: userTimeCmds,
		Usage: "zone of wx_user's datetimes and of tokenExpire (IANA name such as Asia/Shanghai; the zone database is built in)"},
	{Name: "storage-dir", Env: "OA_STORAGE_DIR", YAML: "oa.storage-dir", Default: "./oactl-files", Commands: []string{cmdServe, cmdDev, cmdUsersCancel},
		Usage: "directory for uploaded avatar images (created mode 0700; users cancel deletes the user's files there)"},
	{Name: "upload-retention", Env: "OA_UPLOAD_RETENTION", YAML: "oa.upload-retention", Default: "168h", Commands: serveAndDev,
		Usage: "how long an uploaded image that no user's avatar points at is kept before serve deletes it"},
	{Name: "public-url", Env: "OA_PUBLIC_URL", YAML: "oa.public-url", Commands: serveAndDev,
		Usage: "absolute base URL of upload URLs, e.g. https://oa.example.com (default: from the request's Host)"},
	{Name: "shutdown-timeout", Env: "OA_SHUTDOWN_TIMEOUT", YAML: "oa.shutdown-timeout", Default: "10s", Commands: serveAndDev,
		Usage: "how long in-flight requests get to finish on SIGINT/SIGTERM"},
	{Name: "session-key-secret", NoFlag: true, Env: "OA_SESSION_KEY_SECRET", YAML: "oa.session-key-secret", Commands: []string{cmdServe, cmdDev, cmdSessionsRekey}, Secret: true,
		Usage: "encrypt stored session_keys; NEW,OLD,...: the first seals, all open (rotation); no flag, so it never shows in ps"},
	{Name: "session-retention", Env: "OA_SESSION_RETENTION", YAML: "oa.session-retention", Default: "720h", Commands: serveAndDev,
		Usage: "how long expired sessions are kept before serve deletes them"},
	{Name: "metrics-addr", Env: "OA_METRICS_ADDR", YAML: "oa.metrics.addr", Commands: serveAndDev,
		Usage: "serve GET /metrics on its own listener at this host:port, and not on --addr (default: on --addr)"},
	{Name: "purge-interval", Env: "OA_PURGE_INTERVAL", YAML: "oa.purge-interval", Default: "1h", Commands: serveAndDev, Hidden: true,
		Usage: "how often serve deletes expired sessions and unreferenced uploads past retention (at least 1s)"},

	// Logs, of every command that writes one.
	{Name: "log-format", Env: "OA_LOG_FORMAT", YAML: "oa.log.format", Default: "text", Commands: logCmds,
		Usage: "log lines as text (key=value) or json (one object per line)"},
	{Name: "log-level", Env: "OA_LOG_LEVEL", YAML: "oa.log.level", Default: "info", Commands: logCmds,
		Usage: "least severe level logged: debug, info, warn or error (the line per request is info)"},

	// dev's mockwx and mockwx itself: one address, so that one environment
	// or file describes `oactl dev` and `oactl serve` + `oactl mockwx`
	// alike, and serve's OA_ADDR never moves mockwx onto serve's port.
	{Name: "mockwx-addr", Env: "OA_MOCKWX_ADDR", YAML: "oa.mockwx.addr", Default: "127.0.0.1:9090", Commands: []string{cmdDev},
		Usage: "address of the offline WeChat (loopback only)"},
	{Name: "addr", Env: "OA_MOCKWX_ADDR", YAML: "oa.mockwx.addr", Default: "127.0.0.1:9090", Commands: []string{cmdMockwx},
		Usage: "address the offline WeChat listens on (loopback unless --allow-remote)"},

	// mockwx.
	{Name: "appid", Env: "OA_WX_APP_ID", YAML: "oa.wx.app-id", Commands: []string{cmdMockwx},
		Usage: "an appid accepted (repeatable; default: any); helpers default to the first"},
	{Name: "app-secret", NoFlag: true, Env: "OA_WX_APP_SECRET", YAML: "oa.wx.app-secret", Commands: []string{cmdMockwx}, Secret: true,
		Usage: "the secrets accepted, one per --appid in the same order, or one for every appid (default: any); no flag, so it never shows in ps"},
	{Name: "apps", NoFlag: true, Env: "OA_WX_APPS", YAML: "oa.wx.apps", Commands: []string{cmdMockwx}, Secret: true, Pair: appPair,
		Usage: "more apps accepted with their secrets, APPID=SECRET,... (serve's oa.wx.apps; YAML: a list of {app-id, app-secret})"},
	{Name: "seed", Env: "OA_SEED", YAML: "oa.mockwx.seed", Default: "oactl", Commands: []string{cmdMockwx, cmdMockwxOpenID},
		Usage: "seed of mockwx's openids, unionids and session keys"},
	{Name: "unionid", Env: "OA_UNIONID", YAML: "oa.mockwx.unionid", Default: "false", Commands: []string{cmdMockwx},
		Usage: "answer unionid in jscode2session"},
	{Name: "code-ttl", Env: "OA_CODE_TTL", YAML: "oa.mockwx.code-ttl", Default: "5m", Commands: []string{cmdMockwx},
		Usage: "how long a code stays usable; used codes are remembered twice as long"},
	{Name: "journal-size", Env: "OA_JOURNAL_SIZE", YAML: "oa.mockwx.journal-size", Default: "1000", Commands: []string{cmdMockwx},
		Usage: "requests kept by /__mock/journal (1 to 1000000)"},
	{Name: "script", Env: "OA_SCRIPT", YAML: "oa.mockwx.script", Commands: []string{cmdMockwx},
		Usage: "YAML file of per-user behaviours, phone numbers and faults applied at start (docs/MOCKWX.md)"},
	{Name: "allow-remote", Env: "OA_ALLOW_REMOTE", YAML: "oa.mockwx.allow-remote", Default: "false", Commands: []string{cmdMockwx, cmdDev},
		Usage: "allow listening on a non-loopback address (the fake WeChat lets anyone who reaches it log in as any user)"},

	// migrate.
	{Name: "lock-timeout", Env: "OA_LOCK_TIMEOUT", YAML: "oa.migrate.lock-timeout", Default: "1m", Commands: []string{cmdMigrate},
		Usage: "how long to wait for another migrate run's lock, then exit 1 (1s to 1h)"},

	// sessions.
	{Name: "read-only", Env: "OA_READ_ONLY", YAML: "oa.sessions.read-only", Default: "false", Commands: []string{cmdSessions},
		Usage: "the inspector hides and refuses revocation"},
	{Name: "refresh", Env: "OA_REFRESH", YAML: "oa.sessions.refresh", Default: "10s", Commands: []string{cmdSessions},
		Usage: "the inspector reloads its table this often (0: only on r)"},

	// Support actions.
	{Name: "actor", Env: "OA_ACTOR", YAML: "oa.actor", Commands: auditedCmds,
		Usage: "who the audit rows of revocations, purges, rekeys and account changes name (default: the OS user name)"},
}
