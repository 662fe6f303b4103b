package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/mockwx"
	"github.com/oactl/oactl/internal/server"
)

func init() {
	register(func(f *factory) *cobra.Command { return newDevCmd(f, nil) })
}

type devOptions struct {
	serve       serveOptions
	MockwxAddr  string
	AllowRemote bool

	// mockIsWeChat: serve talks to the in-process mockwx (no base URL
	// given by flag, env or file); its URL is known once mockwx listens.
	mockIsWeChat bool
}

func newDevCmd(f *factory, runF func(*devOptions) error) *cobra.Command {
	o := &devOptions{}
	var set *config.Set
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the login server and an offline WeChat together, zero setup",
		Long: `dev runs oactl serve and oactl mockwx in one process, on the embedded
SQLite file oactl.db unless --db says otherwise. Both sides share the fixed
appid ` + defaultDevAppID + ` (so openids stay the same across restarts of one
database) and a secret made up for this process.

Both listen on loopback only: the fake WeChat turns any code into a login,
so anyone who could reach dev could log in as any user. --allow-remote lifts
that, for a test network you trust.

Any code works as a login code: mockwx maps "alice.1", "alice.2", ... to
user alice. Each code is single-use, as on WeChat.`,
		Example: `  oactl dev
  oactl dev --addr 127.0.0.1:8000 --mockwx-addr 127.0.0.1:9000 --db sqlite:/tmp/oa.db
  oactl dev --db 'mysql://oa:pw@127.0.0.1:3306/oa'   # after oactl migrate up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(set); err != nil {
				return err
			}
			o.serve.where = set.Where
			if err := o.applyDefaults(set); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return withExit(exitUsage, err)
			}
			f.useLog(o.serve.Log)
			warnPasswordFlag(f.logger(), set, o.serve.dbConfig)
			if runF != nil {
				return runF(o)
			}
			return runDev(cmd.Context(), f, o)
		},
	}
	set = config.Settings.For("dev", cmd.Flags())
	bindServeSettings(set, &o.serve)
	set.String("mockwx-addr", &o.MockwxAddr)
	set.Bool("allow-remote", &o.AllowRemote)
	return cmd
}

// applyDefaults gives dev what no source set: mockwx as WeChat, and a
// secret made up for this process (shared in-process with mockwx).
func (o *devOptions) applyDefaults(set *config.Set) error {
	o.mockIsWeChat = set.Source("wx-base-url") == config.FromDefault
	if o.mockIsWeChat {
		// Validated like any base URL; replaced by the real address once
		// mockwx listens (the port may be 0).
		o.serve.WxBaseURL = "http://" + o.MockwxAddr
	}
	if set.Source("app-secret") == config.FromDefault {
		secret, err := randomSecret()
		if err != nil {
			return err
		}
		o.serve.AppSecret = secret
	}
	// Another app named without a secret gets one made up too.
	apps := splitApps(o.serve.Apps)
	for i, a := range apps {
		if !strings.Contains(a, "=") {
			secret, err := randomSecret()
			if err != nil {
				return err
			}
			apps[i] = a + "=" + secret
		}
	}
	o.serve.Apps = strings.Join(apps, ",")
	return nil
}

// validate keeps both of dev's listeners on loopback unless
// --allow-remote: its fake WeChat turns any code into a login, so anyone
// who reaches the login server can log in as any user.
func (o *devOptions) validate() error {
	if err := checkLoopbackAddr(o.serve.where.of("addr"), o.serve.Addr, o.AllowRemote); err != nil {
		return err
	}
	if err := checkLoopbackAddr(o.serve.where.of("mockwx-addr"), o.MockwxAddr, o.AllowRemote); err != nil {
		return err
	}
	return o.serve.validate()
}

func randomSecret() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a dev secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func runDev(ctx context.Context, f *factory, o *devOptions) error {
	logger := f.logger()
	if checkLoopbackAddr("--addr", o.serve.Addr, false) != nil || checkLoopbackAddr("--mockwx-addr", o.MockwxAddr, false) != nil {
		logger.Warn("dev listens beyond loopback (--allow-remote): anyone who reaches it can log in as any user",
			"addr", o.serve.Addr, "mockwx_addr", o.MockwxAddr)
	}
	ln, err := server.Listen(o.MockwxAddr, o.serve.where.of("mockwx-addr"))
	if err != nil {
		return err
	}
	mockURL := "http://" + ln.Addr().String()
	if o.mockIsWeChat {
		o.serve.WxBaseURL = mockURL
	}
	// mockwx gives unionids, so the path that links one person's apps
	// runs by default.
	mock := mockwx.New(mockwx.Config{
		AppID:   o.serve.AppID,
		Secret:  o.serve.AppSecret,
		Apps:    mockApps(o.serve.apps),
		UnionID: true,
		Logger:  logger.With("component", "mockwx"),
	})

	// Whichever side ends first (a signal, or serve failing to start)
	// takes the other down with it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mockDone := make(chan error, 1)
	go func() {
		lc := mockwxLifecycle(logger, o.serve.ShutdownTimeout)
		mockDone <- lc.Serve(ctx, ln, mock)
		cancel()
	}()
	serveErr := runServe(ctx, f, &o.serve, func(addr net.Addr) {
		printDevBanner(f.io.Out, "http://"+addr.String(), mockURL, o)
	})
	cancel()
	mockErr := <-mockDone
	if serveErr != nil {
		return serveErr
	}
	return mockErr
}

func mockApps(apps []app) []mockwx.App {
	var out []mockwx.App
	for _, a := range apps {
		out = append(out, mockwx.App{ID: a.id, Secret: a.secret})
	}
	return out
}

func printDevBanner(w io.Writer, serveURL, mockURL string, o *devOptions) {
	fmt.Fprintf(w, `oactl dev is running (Ctrl-C stops it)
  login server   %s
  fake WeChat    %s   appid %s
  database       %s

Log in as user "alice" (mockwx gives every code "alice.N" alice's openid; each code works once,
so the shell makes a new one each time):
  curl -s %s/wx/auth/login_by_weixin -H 'Content-Type: application/json' -d '{"code":"alice.'$RANDOM$RANDOM'","userInfo":{"nickName":"Alice","gender":2}}'
Then, with the token from that answer:
  curl -s %s/wx/auth/info -H 'X-OA-Token: TOKEN'
`, serveURL, mockURL, o.serve.AppID, bannerDB(o.serve.dbConfig), serveURL, serveURL)
	for _, a := range o.serve.apps {
		fmt.Fprintf(w, `Log in through app %s (WeChat names the app in the Referer; a code for it from mockwx):
  curl -s %s/wx/auth/login_by_weixin -H 'Referer: https://servicewechat.com/%s/0/page-frame.html' -H 'Content-Type: application/json' -d '{"code":"alice.'$RANDOM$RANDOM'"}'
`, a.id, serveURL, a.id)
	}
}

// bannerDB names the database for the banner: a SQLite file by its
// absolute path (which directory is "oactl.db" in?), MySQL redacted.
func bannerDB(cfg db.Config) string {
	if cfg.Dialect == db.SQLite {
		return "sqlite:" + absPath(cfg.Path)
	}
	return cfg.Redacted()
}
