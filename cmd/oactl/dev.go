package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/mockwx"
)

func init() { register(newDevCmd) }

type devOptions struct {
	serve      serveOptions
	MockwxAddr string

	// mockIsWeChat: serve talks to the in-process mockwx (no base URL
	// given by flag, env or file); its URL is known once mockwx listens.
	mockIsWeChat bool
}

func newDevCmd(f *factory) *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the login server and an offline WeChat together, zero setup",
		Long: `dev runs oactl serve and oactl mockwx in one process, on the embedded
SQLite file oactl.db unless --db says otherwise. Both sides share the fixed
appid ` + defaultDevAppID + ` (so openids stay the same across restarts of one
database) and a secret made up for this process.

Any code works as a login code: mockwx maps "alice.1", "alice.2", ... to
user alice. Each code is single-use, as on WeChat.`,
		Example: `  oactl dev
  oactl dev --addr 127.0.0.1:8000 --mockwx-addr 127.0.0.1:9000 --db sqlite:/tmp/oa.db
  oactl dev --db 'mysql://oa:pw@127.0.0.1:3306/oa'   # after oactl migrate up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.resolve(cmd, f.io.Getenv); err != nil {
				return withExit(exitUsage, err)
			}
			return runDev(cmd.Context(), f, o)
		},
	}
	addServeFlags(cmd.Flags(), &o.serve, "127.0.0.1:8080")
	cmd.Flags().StringVar(&o.MockwxAddr, "mockwx-addr", "127.0.0.1:9090", "address of the offline WeChat")
	return cmd
}

// resolve applies dev's defaults: its own appid and secret, and mockwx as
// WeChat unless --wx-base-url points elsewhere.
func (o *devOptions) resolve(cmd *cobra.Command, getenv func(string) string) error {
	fs := cmd.Flags()
	if !fs.Changed("appid") && getenv("OA_WX_APP_ID") == "" {
		o.serve.AppID = defaultDevAppID
	}
	if _, _, err := net.SplitHostPort(o.MockwxAddr); err != nil {
		return fmt.Errorf("--mockwx-addr %q: want host:port", o.MockwxAddr)
	}
	if !isLoopbackAddr(o.MockwxAddr) {
		return fmt.Errorf("--mockwx-addr %q: the offline WeChat listens on loopback only", o.MockwxAddr)
	}
	placeholder := "http://" + o.MockwxAddr
	if !fs.Changed("wx-base-url") {
		// Validated below like any base URL; replaced by the real
		// address once mockwx listens (the port may be 0).
		o.serve.WxBaseURL = placeholder
	}
	// serve's resolve replaces this only with OA_WX_APP_SECRET or the file's.
	secret, err := randomSecret()
	if err != nil {
		return err
	}
	o.serve.AppSecret = secret
	if err := o.serve.resolve(fs, getenv); err != nil {
		return err
	}
	o.mockIsWeChat = o.serve.WxBaseURL == placeholder
	return nil
}

func randomSecret() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a dev secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runDev(ctx context.Context, f *factory, o *devOptions) error {
	logger := f.logger()
	ln, err := net.Listen("tcp", o.MockwxAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.MockwxAddr, err)
	}
	mockURL := "http://" + ln.Addr().String()
	if o.mockIsWeChat {
		o.serve.WxBaseURL = mockURL
	}
	mock := mockwx.New(mockwx.Config{
		AppID:  o.serve.AppID,
		Secret: o.serve.AppSecret,
		Logger: logger.With("component", "mockwx"),
	})

	// Whichever side ends first (a signal, or serve failing to start)
	// takes the other down with it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mockDone := make(chan error, 1)
	go func() {
		mockDone <- serveUntilDone(ctx, newHTTPServer(mock, logger), ln, o.serve.ShutdownTimeout, logger)
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
`, serveURL, mockURL, o.serve.AppID, redactDSN(o.serve.DB), serveURL, serveURL)
}
