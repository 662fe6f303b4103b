package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // --time-zone must work on machines without zoneinfo

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/db/migrate"
	"github.com/oactl/oactl/internal/keyseal"
	"github.com/oactl/oactl/internal/server"
	"github.com/oactl/oactl/internal/wechat"
)

func init() { register(newServeCmd) }

// serveOptions is everything `oactl serve` is told. Flags bind to it
// directly; config.Resolve fills what flags left alone from OA_* and YAML.
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

// settings names the environment variables and YAML keys of serve's flags.
// The YAML keys follow the seed's application.yml (oa.wx.app-id, ...).
var serveSettings = []config.Setting{
	{Flag: "addr", Env: "OA_ADDR", YAML: "oa.addr"},
	{Flag: "db", Env: "OA_DB", YAML: "oa.db"},
	{Flag: "wx-base-url", Env: "OA_WX_BASE_URL", YAML: "oa.wx.base-url"},
	{Flag: "appid", Env: "OA_WX_APP_ID", YAML: "oa.wx.app-id"},
	{Flag: "token-ttl", Env: "OA_TOKEN_TTL", YAML: "oa.token-ttl"},
	{Flag: "wx-timeout", YAML: "oa.wx.timeout"},
	{Flag: "login-rate", YAML: "oa.login-rate"},
	{Flag: "trusted-proxy", YAML: "oa.trusted-proxy"},
	{Flag: "time-zone", Env: "OA_TIME_ZONE", YAML: "oa.time-zone"},
	{Flag: "storage-dir", YAML: "oa.storage-dir"},
	{Flag: "public-url", YAML: "oa.public-url"},
	{Flag: "shutdown-timeout", YAML: "oa.shutdown-timeout"},
	{Flag: "session-key-secret", Env: "OA_SESSION_KEY_SECRET", YAML: "oa.session-key-secret", Secret: true},
	{Flag: "session-retention", YAML: "oa.session-retention"},
}

// defaultDevAppID is the appid `oactl dev` gives both sides, so that
// openids stay the same across restarts on one database.
const defaultDevAppID = "wxoactldev00000000"

func newServeCmd(f *factory) *cobra.Command {
	o := &serveOptions{}
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
			if err := o.resolve(cmd.Flags(), f.io.Getenv); err != nil {
				return withExit(exitUsage, err)
			}
			return runServe(cmd.Context(), f, o, nil)
		},
	}
	addServeFlags(cmd.Flags(), o, "127.0.0.1:8080")
	return cmd
}

func addServeFlags(fs *pflag.FlagSet, o *serveOptions, addr string) {
	fs.StringVar(&o.Addr, "addr", addr, "address to listen on (host:port)")
	fs.StringVar(&o.DB, "db", "sqlite:oactl.db", "database: sqlite:PATH, mysql://user:pass@host:port/db or a go-sql-driver DSN")
	fs.StringVar(&o.WxBaseURL, "wx-base-url", "https://api.weixin.qq.com", "WeChat API base URL (https unless loopback)")
	fs.StringVar(&o.AppID, "appid", "", "the mini-program's appid")
	fs.StringVar(&o.ConfigFile, "config", "", "YAML configuration file (env OA_CONFIG)")
	fs.DurationVar(&o.TokenTTL, "token-ttl", 24*time.Hour, "token lifetime")
	fs.DurationVar(&o.WxTimeout, "wx-timeout", 4*time.Second, "timeout of each call to WeChat")
	fs.Float64Var(&o.LoginRate, "login-rate", 10, "logins per second per client address (burst twice that); 0 turns the limit off")
	fs.StringSliceVar(&o.TrustedProxies, "trusted-proxy", nil, "address or CIDR of a reverse proxy whose X-Forwarded-For is believed (repeatable)")
	fs.StringVar(&o.TimeZone, "time-zone", "Local", "zone of wx_user's datetime columns and of tokenExpire")
	fs.StringVar(&o.StorageDir, "storage-dir", "./oactl-files", "directory for uploaded avatar images")
	fs.StringVar(&o.PublicURL, "public-url", "", "absolute base URL of this server for upload URLs (default: from the request's Host)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight requests get to finish on SIGINT/SIGTERM")
	fs.StringSliceVar(&o.SessionKeySecrets, "session-key-secret", nil, "encrypt stored session_keys; several (comma-separated): the first encrypts, all decrypt (rotation)")
	fs.DurationVar(&o.SessionRetention, "session-retention", 30*24*time.Hour, "how long expired sessions are kept before they are deleted")
	fs.DurationVar(&o.PurgeInterval, "purge-interval", time.Hour, "how often expired sessions are purged")
	_ = fs.MarkHidden("purge-interval")
}

// resolve fills the options from env and the config file and checks them.
func (o *serveOptions) resolve(fs *pflag.FlagSet, getenv func(string) string) error {
	file, err := loadConfigFile(o.ConfigFile, getenv)
	if err != nil {
		return err
	}
	if err := config.Resolve(serveSettings, fs, getenv, file); err != nil {
		return err
	}
	if v := getenv("OA_WX_APP_SECRET"); v != "" {
		o.AppSecret = v
	} else if file != nil {
		if v, ok := file.Lookup("oa.wx.app-secret"); ok {
			o.AppSecret = v
		}
	}
	return o.validate()
}

func loadConfigFile(path string, getenv func(string) string) (*config.File, error) {
	if path == "" {
		path = getenv("OA_CONFIG")
	}
	if path == "" {
		return nil, nil
	}
	return config.Load(path)
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

// newSealer returns nil, nil when no secret is given.
func newSealer(secrets []string) (*keyseal.Sealer, error) {
	var keep []string
	for _, s := range secrets {
		if s = strings.TrimSpace(s); s != "" {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	s, err := keyseal.New(keep...)
	if err != nil {
		return nil, errors.New("--session-key-secret: invalid")
	}
	return s, nil
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
	handler := server.New(server.Config{
		Service:        svc,
		Store:          store,
		Logger:         logger,
		TimeZone:       o.zone,
		LoginRate:      o.LoginRate,
		TrustedProxies: o.proxies,
		StorageDir:     o.StorageDir,
		PublicURL:      o.PublicURL,
	})

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	srv := newHTTPServer(handler, logger)
	logger.Info("serve listening", "addr", ln.Addr().String(), "db", redactDSN(o.DB), "wx_base_url", o.WxBaseURL, "appid", o.AppID)
	if ready != nil {
		ready(ln.Addr())
	}

	purgeCtx, stopPurge := context.WithCancel(ctx)
	defer stopPurge()
	go purgeLoop(purgeCtx, svc, o.PurgeInterval, o.SessionRetention, logger)

	return serveUntilDone(ctx, srv, ln, o.ShutdownTimeout, logger)
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

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler: h,
		// A slow client must not hold a connection forever; uploads are
		// at most 2 MiB, which a phone sends well within these bounds.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// serveUntilDone serves on ln until ctx ends, then lets in-flight requests
// finish for up to timeout.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: in-flight requests did not finish within %v", timeout)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

func purgeLoop(ctx context.Context, svc *auth.Service, every, retention time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := svc.PurgeExpired(ctx, retention)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("purge expired sessions", "err", err)
		case n > 0:
			logger.Info("purged expired sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
