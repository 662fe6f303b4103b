package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/server"
	"github.com/oactl/oactl/internal/wechat"
)

func init() {
	register(func(f *factory) *cobra.Command { return newMockwxCmd(f, nil) })
}

// mockwxOptions are the settings of `oactl mockwx` (SPEC §9).
type mockwxOptions struct {
	ConfigFile  string
	Addr        string
	Seed        string
	AppIDs      []string // --appid, repeatable
	Secrets     []string // OA_WX_APP_SECRET, paired with AppIDs by position (no flag: secrets never show in ps)
	Apps        []string // OA_WX_APPS: APPID=SECRET,...
	UnionID     bool
	CodeTTL     time.Duration
	JournalSize int
	AllowRemote bool
	Script      string // --script: a file of behaviours applied at start

	script *mockwx.Script // parsed by validate, so a bad file exits 2 before anything listens
	// where names each setting's source in errors (set by the command).
	where origin
	Log   logOptions
	// Ready, when set, receives the listening URL (tests use it to find a
	// port chosen with :0).
	Ready func(url string)
}

// Timeouts of mockwx's server: a slow~ directive may hold an answer for
// 60 s, and at shutdown such held answers are cut rather than waited for.
const (
	mockwxWriteTimeout    = 90 * time.Second
	mockwxShutdownTimeout = 5 * time.Second
)

// mockwxLifecycle is how mockwx is served, on its own or inside dev.
func mockwxLifecycle(logger *slog.Logger, shutdown time.Duration) *server.Lifecycle {
	return &server.Lifecycle{
		Logger:          logger,
		ShutdownTimeout: shutdown,
		WriteTimeout:    mockwxWriteTimeout,
		CutAtShutdown:   true,
	}
}

func newMockwxCmd(f *factory, runF func(*mockwxOptions) error) *cobra.Command {
	o := &mockwxOptions{}
	var set *config.Set
	cmd := &cobra.Command{
		Use:   "mockwx",
		Short: "Run an offline WeChat API with deterministic openids and fault injection",
		Long: `mockwx answers like WeChat's server API (jscode2session, access tokens,
checksession, resetusersessionkey, getuserriskrank, getuserphonenumber),
offline and deterministically: a code "alice.1" logs in user alice, whose
openid depends only on --seed, the appid and the user. Prefixes such as
"err40029~", "slow3000~", "http502~", "garbage~" and "drop~" inject faults
into one call; PUT /__mock/users/USER gives a user a lasting behaviour;
--script declares users, phone numbers and faults in one YAML file. Test
helpers live under /__mock/ (/__mock/calls counts WeChat calls for tests).
See docs/MOCKWX.md.`,
		Example: `  oactl mockwx --addr 127.0.0.1:9090 --appid wx0000000000000000 --unionid
  OA_WX_APP_SECRET=sa,sb oactl mockwx --appid wxaaaa --appid wxbbbb   # two apps, secrets by position
  OA_WX_APPS=wxaaaa=sa,wxbbbb=sb oactl mockwx                         # the same
  curl 'http://127.0.0.1:9090/sns/jscode2session?appid=wx0000000000000000&secret=s&js_code=alice.1&grant_type=authorization_code'
  curl -X POST http://127.0.0.1:9090/__mock/login -d '{"user":"alice"}'
  curl 'http://127.0.0.1:9090/__mock/calls?api=jscode2session&user=alice'
  oactl mockwx --script testenv.yaml     # users: {nina: {errcode: 40226}}
  oactl mockwx openid alice --appid wx0000000000000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(set); err != nil {
				return err
			}
			o.where = set.Where
			if err := o.validate(); err != nil {
				return err
			}
			f.useLog(o.Log)
			if runF != nil {
				return runF(o)
			}
			return runMockwx(cmd.Context(), f, o)
		},
	}
	set = config.Settings.For("mockwx", cmd.Flags())
	set.String("config", &o.ConfigFile)
	set.String("addr", &o.Addr)
	set.String("seed", &o.Seed)
	set.Strings("appid", &o.AppIDs)
	set.Strings("app-secret", &o.Secrets)
	set.Strings("apps", &o.Apps)
	set.Bool("unionid", &o.UnionID)
	set.Duration("code-ttl", &o.CodeTTL)
	set.Int("journal-size", &o.JournalSize)
	set.Bool("allow-remote", &o.AllowRemote)
	set.String("script", &o.Script)
	bindLogSettings(set, &o.Log)
	cmd.AddCommand(newMockwxOpenIDCmd(f, nil))
	return cmd
}

func (o *mockwxOptions) validate() error {
	w := o.where.of
	if o.CodeTTL <= 0 {
		return usageError("%s %v: must be positive", w("code-ttl"), o.CodeTTL)
	}
	if o.JournalSize <= 0 || o.JournalSize > 1_000_000 {
		return usageError("%s %d: want 1 to 1000000", w("journal-size"), o.JournalSize)
	}
	if err := o.Log.validate(); err != nil {
		return withExit(exitUsage, err)
	}
	if _, err := o.apps(); err != nil {
		return err
	}
	if o.Script != "" {
		sc, err := mockwx.LoadScript(o.Script)
		if err != nil {
			// The error names the file and the line.
			return usageError("%s: %v", w("script"), err)
		}
		o.script = sc
	}
	return checkLoopbackAddr(w("addr"), o.Addr, o.AllowRemote)
}

// apps are the apps mockwx accepts, the first being the helpers' default:
// each --appid with the secret in its position in OA_WX_APP_SECRET (or
// any secret when none is set), then each entry of OA_WX_APPS. None: every
// appid; one secret and no appid: every appid with that secret. Messages
// name the appid, never a secret.
func (o *mockwxOptions) apps() ([]mockwx.App, error) {
	w := o.where.of
	ids, secrets := nonEmpty(o.AppIDs), nonEmpty(o.Secrets)
	for _, sec := range secrets {
		if !printableASCII(sec, 256) {
			return nil, usageError("%s: an app secret must be printable ASCII", w("app-secret"))
		}
	}
	if len(ids) == 0 && len(secrets) == 1 && len(nonEmpty(o.Apps)) == 0 {
		return []mockwx.App{{Secret: secrets[0]}}, nil // every appid, with this secret
	}
	if len(secrets) > 0 && len(secrets) != len(ids) {
		return nil, usageError("%s: give one secret per --appid, in the same order (%d appids, %d secrets), or none", w("app-secret"), len(ids), len(secrets))
	}
	var out []mockwx.App
	for i, id := range ids {
		a := mockwx.App{ID: id}
		if len(secrets) > 0 {
			a.Secret = secrets[i]
		}
		out = append(out, a)
	}
	for _, e := range nonEmpty(o.Apps) {
		id, secret, ok := strings.Cut(e, "=")
		if !ok || id == "" || secret == "" {
			return nil, usageError("%s: want APPID=SECRET,...", w("apps"))
		}
		if !printableASCII(secret, 256) {
			return nil, usageError("%s: the secret of appid %s must be printable ASCII", w("apps"), id)
		}
		out = append(out, mockwx.App{ID: id, Secret: secret})
	}
	seen := map[string]bool{}
	for _, a := range out {
		if !printableASCII(a.ID, 64) {
			return nil, usageError("%s %q: want 1-64 printable ASCII characters", w("appid"), a.ID)
		}
		if seen[a.ID] {
			return nil, usageError("appid %s is given twice", a.ID)
		}
		seen[a.ID] = true
	}
	return out, nil
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// checkLoopbackAddr checks a listen address and refuses a non-loopback
// one (an empty host means every interface) unless allowRemote: mockwx
// accepts any secret, and dev's fake WeChat logs anyone in as anyone.
// where names the setting's source in the error.
func checkLoopbackAddr(where, addr string, allowRemote bool) error {
	if err := checkListenAddr(where, addr); err != nil {
		return withExit(exitUsage, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	if allowRemote || wechat.IsLoopbackHost(host) {
		return nil
	}
	return usageError("%s %q is not a loopback address: add --allow-remote to listen on it", where, addr)
}

func runMockwx(ctx context.Context, f *factory, o *mockwxOptions) error {
	log := f.logger()
	apps, err := o.apps()
	if err != nil {
		return err
	}
	cfg := mockwx.Config{
		Seed:        o.Seed,
		UnionID:     o.UnionID,
		CodeTTL:     o.CodeTTL,
		JournalSize: o.JournalSize,
		Script:      o.script,
		Logger:      log,
	}
	var ids []string
	for i, a := range apps {
		if i == 0 {
			cfg.AppID, cfg.Secret = a.ID, a.Secret
		} else {
			cfg.Apps = append(cfg.Apps, a)
		}
		ids = append(ids, a.ID)
	}
	srv := mockwx.New(cfg)
	ln, err := server.Listen(o.Addr, o.where.of("addr"))
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(f.io.Out, url)
	log.Info("mockwx listening", "url", url, "appid", strings.Join(ids, ","), "unionid", o.UnionID, "code_ttl", o.CodeTTL.String())
	if o.Ready != nil {
		o.Ready(url)
	}
	if err := mockwxLifecycle(log, mockwxShutdownTimeout).Serve(ctx, ln, srv); err != nil {
		return fmt.Errorf("mockwx: %w", err)
	}
	log.Info("mockwx stopped")
	return nil
}

// mockwxOpenIDOptions are the settings and the argument of
// `oactl mockwx openid`.
type mockwxOpenIDOptions struct {
	ConfigFile string
	AppID      string
	Seed       string
	User       string
}

func newMockwxOpenIDCmd(f *factory, runF func(*mockwxOpenIDOptions) error) *cobra.Command {
	o := &mockwxOpenIDOptions{}
	var set *config.Set
	cmd := &cobra.Command{
		Use:   "openid USER",
		Short: "Print the openid mockwx gives USER, without a server",
		Example: `  oactl mockwx openid alice --appid wx0000000000000000
  oactl mockwx openid alice --appid wx0000000000000000 --seed other`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.resolve(set); err != nil {
				return err
			}
			if args[0] == "" {
				return usageError("USER must not be empty")
			}
			o.User = args[0]
			if runF != nil {
				return runF(o)
			}
			return runMockwxOpenID(f.io, o)
		},
	}
	// The appid defaults to `oactl dev`'s: "which openid does dev give
	// alice?" is the common question.
	set = config.Settings.For("mockwx openid", cmd.Flags())
	set.String("config", &o.ConfigFile)
	set.String("appid", &o.AppID)
	set.String("seed", &o.Seed)
	return cmd
}

func runMockwxOpenID(s *stdio, o *mockwxOpenIDOptions) error {
	_, err := fmt.Fprintln(s.Out, mockwx.OpenID(o.Seed, o.AppID, o.User))
	return err
}
