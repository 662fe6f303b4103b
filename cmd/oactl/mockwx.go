package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/wechat"
)

func init() { register(newMockwxCmd) }

// mockwxOptions are the flags of `oactl mockwx` (SPEC §9).
type mockwxOptions struct {
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

func newMockwxCmd(f *factory) *cobra.Command {
	return newMockwxCmdWith(f, nil)
}

// newMockwxCmdWith takes runF so that tests can capture the parsed options
// without starting a server.
func newMockwxCmdWith(f *factory, runF func(context.Context, *mockwxOptions) error) *cobra.Command {
	o := &mockwxOptions{}
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
			if o.CodeTTL <= 0 {
				return usageError("--code-ttl must be positive")
			}
			if o.JournalSize <= 0 || o.JournalSize > 1_000_000 {
				return usageError("--journal-size must be 1..1000000")
			}
			if err := checkListenAddr(o.Addr, o.AllowRemote); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runMockwx(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "addr", "127.0.0.1:9090", "listen address (loopback unless --allow-remote)")
	fl.StringVar(&o.Seed, "seed", mockwx.DefaultSeed, "seed of the openids, unionids and session keys")
	fl.StringVar(&o.AppID, "appid", "", "the only appid accepted (default: any); helpers default to it")
	fl.StringVar(&o.Secret, "secret", "", "the only app secret accepted (default: any)")
	fl.BoolVar(&o.UnionID, "unionid", false, "answer unionid in jscode2session")
	fl.DurationVar(&o.CodeTTL, "code-ttl", mockwx.DefaultCodeTTL, "how long a code stays usable; used codes are remembered twice as long")
	fl.IntVar(&o.JournalSize, "journal-size", mockwx.DefaultJournalSize, "requests kept by /__mock/journal")
	fl.BoolVar(&o.AllowRemote, "allow-remote", false, "allow listening on a non-loopback address")
	cmd.AddCommand(newMockwxOpenIDCmd(f))
	return cmd
}

// checkListenAddr refuses a non-loopback address (an empty host means
// every interface) unless allowed: mockwx accepts any secret.
func checkListenAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("--addr %q: %v", addr, err)
	}
	if !allowRemote && !wechat.IsLoopbackHost(host) {
		return usageError("--addr %q is not a loopback address: add --allow-remote to listen on it", addr)
	}
	return nil
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
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("mockwx: %w", err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		// A slow~ directive may hold an answer for 60 s.
		WriteTimeout: 90 * time.Second,
		IdleTimeout:  120 * time.Second,
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(f.io.Out, url)
	log.Info("mockwx listening", "url", url, "appid", o.AppID, "unionid", o.UnionID, "code_ttl", o.CodeTTL.String())
	if o.Ready != nil {
		o.Ready(url)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("mockwx: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		// Requests held by slow~ directives: cut them off.
		_ = hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("mockwx: %w", err)
	}
	log.Info("mockwx stopped")
	return nil
}

func newMockwxOpenIDCmd(f *factory) *cobra.Command {
	var appid, seed string
	cmd := &cobra.Command{
		Use:   "openid USER",
		Short: "Print the openid mockwx gives USER, without a server",
		Example: `  oactl mockwx openid alice --appid wx0000000000000000
  oactl mockwx openid alice --appid wx0000000000000000 --seed other`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if appid == "" {
				appid = f.io.Getenv("OA_WX_APP_ID")
			}
			if appid == "" {
				// The appid `oactl dev` uses: "which openid does dev give
				// alice?" is the common question.
				appid = defaultDevAppID
			}
			if args[0] == "" {
				return usageError("USER must not be empty")
			}
			_, err := fmt.Fprintln(f.io.Out, mockwx.OpenID(seed, appid, args[0]))
			return err
		},
	}
	cmd.Flags().StringVar(&appid, "appid", "", "the appid (default $OA_WX_APP_ID, else oactl dev's "+defaultDevAppID+")")
	cmd.Flags().StringVar(&seed, "seed", mockwx.DefaultSeed, "the seed mockwx runs with")
	return cmd
}
