package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // --time-zone must work on machines without zoneinfo

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/migrate"
	"github.com/oactl/oactl/internal/keyseal"
	"github.com/oactl/oactl/internal/server"
	"github.com/oactl/oactl/internal/wechat"
)

func init() {
	register(func(f *factory) *cobra.Command { return newServeCmd(f, nil) })
}

// serveOptions is everything `oactl serve` is told. Its settings are bound
// from config.Settings (bindServeSettings); validate parses what needs it.
type serveOptions struct {
	Addr              string
	DB                string
	WxBaseURL         string
	AppID             string
	AppSecret         string // env or YAML only: a flag would show in ps
	Apps              string // APPID=SECRET,... of the other apps; env or YAML only
	ConfigFile        string
	TokenTTL          time.Duration
	TokenMaxAge       time.Duration
	MaxSessions       int
	WxTimeout         time.Duration
	LoginRate         float64
	UploadRate        float64
	BindPhoneRate     float64
	UploadRetention   time.Duration
	TrustedProxies    []string
	TimeZone          string
	StorageDir        string
	PublicURL         string
	ShutdownTimeout   time.Duration
	SessionKeySecrets []string
	SessionRetention  time.Duration
	PurgeInterval     time.Duration
	MetricsAddr       string // "": /metrics on Addr
	Log               logOptions

	// where names each setting's source in errors (set by the command).
	where origin
	// warnDefaultDB: no source named a database; serve says which file
	// it uses (dev's banner shows it anyway).
	warnDefaultDB bool

	// Parsed by validate, so runServe uses exactly what was checked.
	dbConfig db.Config
	zone     *time.Location
	proxies  []netip.Prefix
	sealer   *keyseal.Sealer // nil: session keys are stored as they are
	apps     []app           // the other apps, parsed from Apps
}

// maxSessionsLimit bounds --max-sessions-per-user: the limit is read
// with every login, and a larger one is no limit in practice.
const maxSessionsLimit = 10000

// app is one mini-program of the backend besides the default one.
type app struct{ id, secret string }

// defaultDevAppID is the appid `oactl dev` gives both sides, so that
// openids stay the same across restarts on one database.
const defaultDevAppID = config.DevAppID

func newServeCmd(f *factory, runF func(*serveOptions) error) *cobra.Command {
	o := &serveOptions{}
	var set *config.Set
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the login server",
		Long: `serve runs the login server of the mini-program: POST
/wx/auth/login_by_weixin trades a wx.login code with WeChat's code2Session,
creates or updates the wx_user row and issues a token (header X-OA-Token)
for the personal-centre API.

Settings come from flags, then OA_* environment variables, then the YAML
file of --config (the seed's application.yml layout works), then defaults.
Secrets have no flag, so they never show in a process listing: the app
secret comes from OA_WX_APP_SECRET, the session-key secrets from
OA_SESSION_KEY_SECRET (or the files OA_WX_APP_SECRET_FILE and
OA_SESSION_KEY_SECRET_FILE name, or --config). Keep the database's
password in OA_DB too.`,
		Example: `  # against real WeChat, on MySQL; the secrets stay out of ps
  export OA_WX_APP_SECRET_FILE=/run/secrets/app_secret OA_DB='mysql://oa:pw@127.0.0.1:3306/oa'
  oactl serve --appid wx1234567890abcdef --time-zone Asia/Shanghai

  # with the Java backend's application.yml
  oactl serve --config application.yml

  # against a local mockwx
  OA_WX_APP_SECRET=s oactl serve --appid wx1234567890abcdef --wx-base-url http://127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(set); err != nil {
				return err
			}
			o.where = set.Where
			o.warnDefaultDB = set.Source("db") == config.FromDefault
			if err := o.validate(); err != nil {
				return withExit(exitUsage, err)
			}
			f.useLog(o.Log)
			warnPasswordFlag(f.logger(), set, o.dbConfig)
			if runF != nil {
				return runF(o)
			}
			return runServe(cmd.Context(), f, o, nil)
		},
	}
	set = config.Settings.For("serve", cmd.Flags())
	bindServeSettings(set, o)
	return cmd
}

// bindServeSettings binds the settings serve and dev share.
func bindServeSettings(set *config.Set, o *serveOptions) {
	set.String("config", &o.ConfigFile)
	set.String("addr", &o.Addr)
	set.String("db", &o.DB)
	set.String("wx-base-url", &o.WxBaseURL)
	set.String("appid", &o.AppID)
	set.String("app-secret", &o.AppSecret)
	set.String("apps", &o.Apps)
	set.Duration("token-ttl", &o.TokenTTL)
	set.Duration("token-max-age", &o.TokenMaxAge)
	set.Int("max-sessions-per-user", &o.MaxSessions)
	set.Duration("wx-timeout", &o.WxTimeout)
	set.Float("login-rate", &o.LoginRate)
	set.Float("upload-rate", &o.UploadRate)
	set.Float("bind-phone-rate", &o.BindPhoneRate)
	set.Duration("upload-retention", &o.UploadRetention)
	set.Strings("trusted-proxy", &o.TrustedProxies)
	set.String("time-zone", &o.TimeZone)
	set.String("storage-dir", &o.StorageDir)
	set.String("public-url", &o.PublicURL)
	set.Duration("shutdown-timeout", &o.ShutdownTimeout)
	set.Strings("session-key-secret", &o.SessionKeySecrets)
	set.Duration("session-retention", &o.SessionRetention)
	set.Duration("purge-interval", &o.PurgeInterval)
	set.String("metrics-addr", &o.MetricsAddr)
	bindLogSettings(set, &o.Log)
}

// validate checks every setting before anything is opened or created;
// each error names the setting's source (flag, variable or file key).
func (o *serveOptions) validate() error {
	w := o.where.of
	if err := checkListenAddr(w("addr"), o.Addr); err != nil {
		return err
	}
	var err error
	if o.dbConfig, err = checkDSN(w("db"), o.DB); err != nil {
		return err
	}
	if err := wechat.ValidateBaseURL(o.WxBaseURL); err != nil {
		return fmt.Errorf("%s: %w", w("wx-base-url"), err)
	}
	if o.AppID == "" {
		return errors.New("no appid: give --appid, OA_WX_APP_ID or oa.wx.app-id in --config")
	}
	if !printableASCII(o.AppID, 64) {
		return fmt.Errorf("%s: want at most 64 printable ASCII characters", w("appid"))
	}
	if o.AppSecret == "" {
		return errors.New("no app secret: set OA_WX_APP_SECRET (or OA_WX_APP_SECRET_FILE, or oa.wx.app-secret in --config)")
	}
	if !printableASCII(o.AppSecret, 256) {
		return fmt.Errorf("%s: the app secret must be printable ASCII", w("app-secret"))
	}
	if o.apps, err = parseApps(o.Apps, o.AppID); err != nil {
		return err
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"upload-rate", o.UploadRate}, {"bind-phone-rate", o.BindPhoneRate}} {
		if r.v < 0 || r.v > 1e6 || math.IsNaN(r.v) {
			return fmt.Errorf("%s %v: want 0 (off) to 1000000 a minute", w(r.name), r.v)
		}
	}
	if o.UploadRetention < time.Minute {
		return fmt.Errorf("%s %v: want at least 1m (an upload must outlive the profile save that follows it)", w("upload-retention"), o.UploadRetention)
	}
	if o.TokenTTL < time.Second {
		return fmt.Errorf("%s %v: want at least 1s", w("token-ttl"), o.TokenTTL)
	}
	if o.TokenMaxAge < o.TokenTTL {
		return fmt.Errorf("%s %v: want at least %s (%v); equal turns renewal off", w("token-max-age"), o.TokenMaxAge, w("token-ttl"), o.TokenTTL)
	}
	if o.MaxSessions < 0 || o.MaxSessions > maxSessionsLimit {
		return fmt.Errorf("%s %d: want 0 (no limit) to %d", w("max-sessions-per-user"), o.MaxSessions, maxSessionsLimit)
	}
	if o.WxTimeout <= 0 || o.WxTimeout > time.Minute {
		return fmt.Errorf("%s %v: want more than 0 and at most 1m (mini-programs give up after 6s)", w("wx-timeout"), o.WxTimeout)
	}
	if o.LoginRate < 0 || o.LoginRate > 1e6 {
		return fmt.Errorf("%s %v: want 0 (off) to 1000000", w("login-rate"), o.LoginRate)
	}
	if o.proxies, err = parseTrustedProxies(w("trusted-proxy"), o.TrustedProxies); err != nil {
		return err
	}
	if o.zone, err = loadZone(w("time-zone"), o.TimeZone); err != nil {
		return err
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %q: want an absolute http(s) URL", w("public-url"), o.PublicURL)
		}
	}
	if o.StorageDir == "" {
		return fmt.Errorf("%s: must not be empty", w("storage-dir"))
	}
	if o.ShutdownTimeout < 0 {
		return fmt.Errorf("%s %v: must not be negative", w("shutdown-timeout"), o.ShutdownTimeout)
	}
	if o.SessionRetention < 0 {
		return fmt.Errorf("%s %v: must not be negative", w("session-retention"), o.SessionRetention)
	}
	if o.PurgeInterval < time.Second {
		return fmt.Errorf("%s %v: want at least 1s", w("purge-interval"), o.PurgeInterval)
	}
	if o.sealer, err = newSealer(w("session-key-secret"), o.SessionKeySecrets); err != nil {
		return err
	}
	if o.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(o.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr %q: want host:port", o.MetricsAddr)
		}
		if o.MetricsAddr == o.Addr {
			return fmt.Errorf("--metrics-addr %q: the same as --addr; leave it unset to serve /metrics there", o.MetricsAddr)
		}
	}
	return o.Log.validate()
}

// parseApps reads the other apps, APPID=SECRET separated by commas or
// line breaks (SPEC §10). It splits the text itself: a CSV reader, as
// pflag's lists use, would take quotes in a secret for quoting and stop
// at the first line break without a word. The messages name the appid,
// never the secret.
func parseApps(list, defaultApp string) ([]app, error) {
	const src = "OA_WX_APPS / oa.wx.apps"
	seen := map[string]bool{defaultApp: true}
	var out []app
	for _, e := range splitApps(list) {
		id, secret, _ := strings.Cut(e, "=")
		switch {
		case !printableASCII(id, 64) || id == "":
			return nil, fmt.Errorf("%s: an appid must be 1-64 printable ASCII characters", src)
		case seen[id]:
			return nil, fmt.Errorf("%s: appid %s is given twice (the default app is --appid)", src, id)
		case secret == "":
			return nil, fmt.Errorf("%s: appid %s has no secret: write it as %s=SECRET", src, id, id)
		case !printableASCII(secret, 256):
			return nil, fmt.Errorf("%s: the secret of appid %s: want printable ASCII", src, id)
		}
		seen[id] = true
		out = append(out, app{id: id, secret: secret})
	}
	return out, nil
}

// splitApps splits OA_WX_APPS into its entries, trimmed, empty ones
// dropped.
func splitApps(list string) []string {
	var out []string
	for _, e := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func printableASCII(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func parseTrustedProxies(where string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: want an address or CIDR", where, s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func loadZone(where, name string) (*time.Location, error) {
	switch name {
	case "", "Local", "local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%s %q: unknown zone (want an IANA name such as Asia/Shanghai)", where, name)
	}
	return loc, nil
}

// newSealer returns nil, nil when no secret is given. Every secret must
// be at least keyseal.MinSecretLen bytes; validate makes that a usage
// error (exit 2). where names the setting's source; the message names the
// secret's position, never its text.
func newSealer(where string, secrets []string) (*keyseal.Sealer, error) {
	keep := trimSecrets(secrets)
	if len(keep) == 0 {
		return nil, nil
	}
	s, err := keyseal.New(keep...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

func trimSecrets(secrets []string) []string {
	var keep []string
	for _, s := range secrets {
		if s = strings.TrimSpace(s); s != "" {
			keep = append(keep, s)
		}
	}
	return keep
}

// listening is told the server's address once it accepts connections;
// `oactl dev` uses it to print URLs, tests to find a free port's number.
type listening func(addr net.Addr)

// runServe runs the login server until ctx is cancelled, then shuts down
// within the shutdown timeout.
func runServe(ctx context.Context, f *factory, o *serveOptions, ready listening) error {
	logger := f.logger()
	// Listen before the database is opened: a port in use fails before a
	// SQLite file is created. Connections wait in the backlog meanwhile.
	ln, err := server.Listen(o.Addr, o.where.of("addr"))
	if err != nil {
		return err
	}
	defer ln.Close()
	var mln net.Listener
	if o.MetricsAddr != "" {
		if mln, err = server.Listen(o.MetricsAddr, o.where.of("metrics-addr")); err != nil {
			return err
		}
		defer mln.Close()
	}
	if o.warnDefaultDB {
		logger.Warn("no database configured (--db, OA_DB, oa.db or spring.datasource in --config): using a SQLite file", "path", absPath(o.dbConfig.Path))
	}
	store, err := openServeDB(ctx, o.DB, o.zone, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	metrics := server.NewMetrics()
	// One WeChat client per app: each has its own secret and caches its
	// own access token.
	client := func(id, secret string) *wechat.Client {
		return &wechat.Client{BaseURL: o.WxBaseURL, AppID: id, Secret: secret, Timeout: o.WxTimeout, Observer: metrics}
	}
	svc := &auth.Service{
		Store:       store,
		WeChat:      client(o.AppID, o.AppSecret),
		AppID:       o.AppID,
		TokenTTL:    o.TokenTTL,
		MaxAge:      o.TokenMaxAge,
		MaxSessions: o.MaxSessions,
		Logger:      logger,
	}
	appIDs := []string{o.AppID}
	if len(o.apps) > 0 {
		svc.Apps = make(map[string]auth.WeChat, len(o.apps))
		for _, a := range o.apps {
			svc.Apps[a.id] = client(a.id, a.secret)
			appIDs = append(appIDs, a.id)
		}
	}
	if o.sealer != nil { // a nil *Sealer in the interface would not be nil
		svc.Sealer = o.sealer
	}
	files, err := server.OpenFiles(o.StorageDir, store, o.UploadRetention, logger)
	if err != nil {
		return fmt.Errorf("--storage-dir %s: %w", o.StorageDir, err)
	}
	defer files.Close()
	svc.Files = files // a cancelled user's uploads go at once
	handler := server.New(server.Config{
		Service:        svc,
		Store:          store,
		Logger:         logger,
		TimeZone:       o.zone,
		LoginRate:      o.LoginRate,
		TrustedProxies: o.proxies,
		StorageDir:     o.StorageDir,
		PublicURL:      o.PublicURL,
		UploadRate:     o.UploadRate,
		BindPhoneRate:  o.BindPhoneRate,
		Files:          files,

		Metrics:          metrics,
		MetricsElsewhere: o.MetricsAddr != "",
	})

	var extra []server.Endpoint
	if mln != nil {
		extra = append(extra, server.Endpoint{Listener: mln, Handler: server.MetricsHandler(metrics)})
		logger.Info("metrics listening", "addr", mln.Addr().String())
	}
	logger.Info("serve listening", "addr", ln.Addr().String(), "db", redactDSN(o.DB), "wx_base_url", o.WxBaseURL,
		"appid", o.AppID, "apps", strings.Join(appIDs, ","))
	if ready != nil {
		ready(ln.Addr())
	}
	lc := server.Lifecycle{
		Logger:          logger,
		ShutdownTimeout: o.ShutdownTimeout,
		Jobs: []server.Job{
			{Every: o.PurgeInterval, Run: purgeJob(svc, o.SessionRetention, logger)},
			server.CollectUploadsJob(files, o.PurgeInterval, logger),
		},
		Extra: extra,
	}
	return lc.Serve(ctx, ln, handler)
}

// openServeDB opens the database. The embedded SQLite default is created
// and migrated on first start so that `oactl dev` needs no setup; a MySQL
// schema belongs to the DBA, so serve refuses an older one instead.
func openServeDB(ctx context.Context, dsn string, zone *time.Location, logger *slog.Logger) (*db.DB, error) {
	d, err := db.Open(ctx, dsn, db.Options{TimeZone: zone, Logger: logger})
	if err != nil {
		return nil, err
	}
	if d.Dialect() == "sqlite" {
		if _, err := migrate.New(d, migrate.Options{}).Up(ctx, 0); err != nil {
			d.Close()
			return nil, fmt.Errorf("migrate database: %w", err)
		}
		return d, nil
	}
	st, err := d.Ping(ctx)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if err := st.Check(); err != nil {
		d.Close()
		return nil, fmt.Errorf("%w: run `oactl migrate up --db DSN` with this database's DSN (%s) first", err, redactDSN(dsn))
	}
	return d, nil
}

// absPath is path made absolute for messages (as it is if that fails).
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func redactDSN(dsn string) string {
	c, err := db.ParseDSN(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return c.Redacted()
}

// purgeJob deletes the sessions that expired more than retention ago.
// Every serve process runs it; the delete is idempotent.
func purgeJob(svc *auth.Service, retention time.Duration, logger *slog.Logger) func(context.Context) {
	return func(ctx context.Context) {
		n, err := svc.PurgeExpired(ctx, retention)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("purge expired sessions", "err", err)
		case n > 0:
			logger.Info("purged expired sessions", "count", n)
		}
	}
}
