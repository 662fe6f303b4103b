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
	ConfigFile        string
	TokenTTL          time.Duration
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

	// Parsed by validate, so runServe uses exactly what was checked.
	zone    *time.Location
	proxies []netip.Prefix
	sealer  *keyseal.Sealer // nil: session keys are stored as they are
}

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
The app secret is read from OA_WX_APP_SECRET or oa.wx.app-secret only, so
it never shows in a process listing.`,
		Example: `  # against real WeChat, on MySQL
  OA_WX_APP_SECRET=... oactl serve --appid wx1234567890abcdef \
      --db 'mysql://oa:pw@127.0.0.1:3306/oa' --time-zone Asia/Shanghai

  # with the Java backend's application.yml
  oactl serve --config application.yml

  # against a local mockwx
  OA_WX_APP_SECRET=s oactl serve --appid wx1234567890abcdef --wx-base-url http://127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(set); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return withExit(exitUsage, err)
			}
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
	set.Duration("token-ttl", &o.TokenTTL)
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
}

func (o *serveOptions) validate() error {
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port", o.Addr)
	}
	if err := wechat.ValidateBaseURL(o.WxBaseURL); err != nil {
		return fmt.Errorf("--wx-base-url: %w", err)
	}
	if o.AppID == "" {
		return errors.New("no appid: give --appid, OA_WX_APP_ID or oa.wx.app-id in --config")
	}
	if !printableASCII(o.AppID, 64) {
		return errors.New("--appid: want at most 64 printable ASCII characters")
	}
	if o.AppSecret == "" {
		return errors.New("no app secret: set OA_WX_APP_SECRET or oa.wx.app-secret in --config")
	}
	if !printableASCII(o.AppSecret, 256) {
		return errors.New("app secret: want printable ASCII")
	}
	if o.TokenTTL < time.Second {
		return fmt.Errorf("--token-ttl %v: want at least 1s", o.TokenTTL)
	}
	if o.WxTimeout <= 0 || o.WxTimeout > time.Minute {
		return fmt.Errorf("--wx-timeout %v: want more than 0 and at most 1m (mini-programs give up after 6s)", o.WxTimeout)
	}
	if o.LoginRate < 0 || o.LoginRate > 1e6 {
		return fmt.Errorf("--login-rate %v: want 0 (off) to 1000000", o.LoginRate)
	}
	for _, r := range []struct {
		flag string
		v    float64
	}{{"--upload-rate", o.UploadRate}, {"--bind-phone-rate", o.BindPhoneRate}} {
		if r.v < 0 || r.v > 1e6 || math.IsNaN(r.v) {
			return fmt.Errorf("%s %v: want 0 (off) to 1000000 a minute", r.flag, r.v)
		}
	}
	if o.UploadRetention < time.Minute {
		return fmt.Errorf("--upload-retention %v: want at least 1m (an upload must outlive the profile save that follows it)", o.UploadRetention)
	}
	var err error
	if o.proxies, err = parseTrustedProxies(o.TrustedProxies); err != nil {
		return err
	}
	if o.zone, err = loadZone(o.TimeZone); err != nil {
		return err
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--public-url %q: want an absolute http(s) URL", o.PublicURL)
		}
	}
	if o.StorageDir == "" {
		return errors.New("--storage-dir: must not be empty")
	}
	if o.ShutdownTimeout < 0 {
		return fmt.Errorf("--shutdown-timeout %v: must not be negative", o.ShutdownTimeout)
	}
	if o.SessionRetention < 0 {
		return fmt.Errorf("--session-retention %v: must not be negative", o.SessionRetention)
	}
	if o.PurgeInterval < time.Second {
		return fmt.Errorf("--purge-interval %v: want at least 1s", o.PurgeInterval)
	}
	if o.sealer, err = newSealer(o.SessionKeySecrets); err != nil {
		return err
	}
	return nil
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

func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
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
			return nil, fmt.Errorf("--trusted-proxy %q: want an address or CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "", "Local", "local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("--time-zone %q: unknown zone", name)
	}
	return loc, nil
}

// newSealer returns nil, nil when no secret is given. Every secret must
// be at least keyseal.MinSecretLen bytes; validate makes that a usage
// error (exit 2). The message names the secret's position, never its text.
func newSealer(secrets []string) (*keyseal.Sealer, error) {
	keep := trimSecrets(secrets)
	if len(keep) == 0 {
		return nil, nil
	}
	s, err := keyseal.New(keep...)
	if err != nil {
		return nil, fmt.Errorf("OA_SESSION_KEY_SECRET: %w", err)
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
	store, err := openServeDB(ctx, o.DB, o.zone, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	svc := &auth.Service{
		Store: store,
		WeChat: &wechat.Client{
			BaseURL: o.WxBaseURL,
			AppID:   o.AppID,
			Secret:  o.AppSecret,
			Timeout: o.WxTimeout,
		},
		AppID:    o.AppID,
		TokenTTL: o.TokenTTL,
		Logger:   logger,
	}
	if o.sealer != nil { // a nil *Sealer in the interface would not be nil
		svc.Sealer = o.sealer
	}
	files, err := server.OpenFiles(o.StorageDir, store, o.UploadRetention, logger)
	if err != nil {
		return fmt.Errorf("--storage-dir %s: %w", o.StorageDir, err)
	}
	defer files.Close()
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
	})

	ln, err := server.Listen(o.Addr, "--addr")
	if err != nil {
		return err
	}
	logger.Info("serve listening", "addr", ln.Addr().String(), "db", redactDSN(o.DB), "wx_base_url", o.WxBaseURL, "appid", o.AppID)
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
	}
	return lc.Serve(ctx, ln, handler)
}

// openServeDB opens the database. The embedded SQLite default is created
// and migrated on first start so that `oactl dev` needs no setup; a MySQL
// schema belongs to the DBA, so serve refuses an older one instead.
func openServeDB(ctx context.Context, dsn string, zone *time.Location, logger *slog.Logger) (*db.DB, error) {
	d, err := db.Open(ctx, dsn, db.Options{TimeZone: zone, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
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
