package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
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
	AppID       string
	Secret      string
	UnionID     bool
	CodeTTL     time.Duration
	JournalSize int
	AllowRemote bool
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
checksession, getuserphonenumber), offline and deterministically: a code
"alice.1" logs in user alice, whose openid depends only on --seed, the appid
and the user. Prefixes such as "err40029~", "slow3000~", "http502~",
"garbage~" and "drop~" inject faults. Test helpers live under /__mock/.
See docs/MOCKWX.md.`,
		Example: `  oactl mockwx --addr 127.0.0.1:9090 --appid wx0000000000000000 --unionid
  curl 'http://127.0.0.1:9090/sns/jscode2session?appid=wx0000000000000000&secret=s&js_code=alice.1&grant_type=authorization_code'
  curl -X POST http://127.0.0.1:9090/__mock/login -d '{"user":"alice"}'
  oactl mockwx openid alice --appid wx0000000000000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(set); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
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
	set.String("appid", &o.AppID)
	set.String("secret", &o.Secret)
	set.Bool("unionid", &o.UnionID)
	set.Duration("code-ttl", &o.CodeTTL)
	set.Int("journal-size", &o.JournalSize)
	set.Bool("allow-remote", &o.AllowRemote)
	cmd.AddCommand(newMockwxOpenIDCmd(f, nil))
	return cmd
}

func (o *mockwxOptions) validate() error {
	if o.CodeTTL <= 0 {
		return usageError("--code-ttl must be positive")
	}
	if o.JournalSize <= 0 || o.JournalSize > 1_000_000 {
		return usageError("--journal-size must be 1..1000000")
	}
	return checkLoopbackAddr("--addr", o.Addr, o.AllowRemote)
}

// checkLoopbackAddr refuses a non-loopback address (an empty host means
// every interface) unless allowRemote: mockwx accepts any secret and dev's
// fake WeChat logs anyone in as anyone. flag names the setting in the
// error.
func checkLoopbackAddr(flag, addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("%s %q: want host:port", flag, addr)
	}
	if allowRemote || wechat.IsLoopbackHost(host) {
		return nil
	}
	return usageError("%s %q is not a loopback address: add --allow-remote to listen on it", flag, addr)
}

func runMockwx(ctx context.Context, f *factory, o *mockwxOptions) error {
	log := f.logger()
	srv := mockwx.New(mockwx.Config{
		Seed:        o.Seed,
		AppID:       o.AppID,
		Secret:      o.Secret,
		UnionID:     o.UnionID,
		CodeTTL:     o.CodeTTL,
		JournalSize: o.JournalSize,
		Logger:      log,
	})
	ln, err := server.Listen(o.Addr, "--addr")
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(f.io.Out, url)
	log.Info("mockwx listening", "url", url, "appid", o.AppID, "unionid", o.UnionID, "code_ttl", o.CodeTTL.String())
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
