package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/mockwx"
)

func testStdio(env map[string]string) (*stdio, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &stdio{
		In: strings.NewReader(""), Out: &out, Err: &errb,
		IsTerm: func() bool { return false },
		Getenv: func(k string) string { return env[k] },
	}, &out, &errb
}

// execute runs cmd with args on s's streams, as run does with the root.
func execute(cmd *cobra.Command, s *stdio, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(s.Out)
	cmd.SetErr(s.Err)
	return cmd.Execute()
}

func TestMockwxOpenIDSubcommand(t *testing.T) {
	s, out, errb := testStdio(nil)
	if code := run([]string{"mockwx", "openid", "alice", "--appid", "wxA", "--seed", "s1"}, s); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if got, want := strings.TrimSpace(out.String()), mockwx.OpenID("s1", "wxA", "alice"); got != want {
		t.Errorf("openid %q, want %q", got, want)
	}
	s, out, _ = testStdio(map[string]string{"OA_WX_APP_ID": "wxEnv"})
	if code := run([]string{"mockwx", "openid", "bob"}, s); code != 0 || strings.TrimSpace(out.String()) != mockwx.OpenID("oactl", "wxEnv", "bob") {
		t.Errorf("openid from OA_WX_APP_ID: exit %d, %q", code, out)
	}
	s, out, _ = testStdio(nil)
	if code := run([]string{"mockwx", "openid", "carol"}, s); code != 0 || strings.TrimSpace(out.String()) != mockwx.OpenID("oactl", defaultDevAppID, "carol") {
		t.Errorf("openid without any appid must be oactl dev's: exit %d, %q", code, out)
	}
	for _, args := range [][]string{
		{"mockwx", "openid"},
		{"mockwx", "openid", "a", "b", "--appid", "x"},
		{"mockwx", "stray"},
		{"mockwx", "--addr", "0.0.0.0:9090"},
		{"mockwx", "--addr", ":9090"},
		{"mockwx", "--addr", "nonsense"},
		{"mockwx", "--code-ttl", "0s"},
		{"mockwx", "--journal-size", "0"},
		{"mockwx", "--bogus"},
	} {
		s, _, _ := testStdio(nil)
		if code := run(args, s); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestMockwxFlags(t *testing.T) {
	s, _, _ := testStdio(map[string]string{"OA_WX_APP_SECRET": "sec"})
	var got *mockwxOptions
	cmd := newMockwxCmd(&factory{io: s}, func(o *mockwxOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--addr", "[::1]:0", "--seed", "S", "--appid", "wxA", "--unionid", "--code-ttl", "30s", "--journal-size", "7"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := mockwxOptions{Addr: "[::1]:0", Seed: "S", AppIDs: []string{"wxA"}, Secrets: []string{"sec"}, UnionID: true, CodeTTL: 30 * time.Second, JournalSize: 7}
	if got == nil || got.Ready != nil || !sameOptions(*got, want) {
		t.Errorf("options %+v, want %+v", got, want)
	}
	cmd = newMockwxCmd(&factory{io: s}, func(o *mockwxOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--addr", "0.0.0.0:0", "--allow-remote"})
	if err := cmd.Execute(); err != nil || !got.AllowRemote {
		t.Errorf("--allow-remote: %v, %+v", err, got)
	}
	cmd = newMockwxCmd(&factory{io: s}, func(o *mockwxOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || got.Addr != "127.0.0.1:9090" || got.Seed != "oactl" || got.CodeTTL != 5*time.Minute || got.JournalSize != 1000 {
		t.Errorf("defaults: %v, %+v", err, got)
	}
}

// TestMockwxSeveralApps: --appid repeats with the secrets of
// OA_WX_APP_SECRET paired by position, OA_WX_APPS adds APPID=SECRET;
// mismatched counts, duplicates and malformed entries are usage errors
// that echo no secret.
func TestMockwxSeveralApps(t *testing.T) {
	s, _, _ := testStdio(map[string]string{"OA_WX_APP_SECRET": "sa,sb", "OA_WX_APPS": "wxC=sc"})
	var got *mockwxOptions
	cmd := newMockwxCmd(&factory{io: s}, func(o *mockwxOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--appid", "wxA", "--appid", "wxB"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	apps, err := got.apps()
	want := []mockwx.App{{ID: "wxA", Secret: "sa"}, {ID: "wxB", Secret: "sb"}, {ID: "wxC", Secret: "sc"}}
	if err != nil || !slices.Equal(apps, want) {
		t.Fatalf("apps %v, %v; want %v", apps, err, want)
	}
	o := mockwxOptions{AppIDs: []string{"wxA", "wxB"}}
	if apps, err := o.apps(); err != nil || !slices.Equal(apps, []mockwx.App{{ID: "wxA"}, {ID: "wxB"}}) {
		t.Errorf("appids without secrets: %v, %v", apps, err)
	}
	for _, tc := range []struct {
		args            []string
		secrets, extras string
	}{
		{[]string{"--appid", "wxA", "--appid", "wxB"}, "TOPSECRET", ""},
		{[]string{"--appid", "wxA"}, "", "wxA=TOPSECRET"},
		{nil, "", "wxA"},
		{nil, "", "=TOPSECRET"},
		{nil, "", "wxA=TOP\x01SECRET"},
		{[]string{"--appid", "wx A"}, "", ""},
	} {
		s, _, errb := testStdio(map[string]string{"OA_WX_APP_SECRET": tc.secrets, "OA_WX_APPS": tc.extras})
		if code := run(append([]string{"mockwx", "--addr", "127.0.0.1:0"}, tc.args...), s); code != exitUsage {
			t.Errorf("%v %q %q: exit %d, want 2", tc.args, tc.secrets, tc.extras, code)
		}
		if strings.Contains(errb.String(), "TOPSECRET") || strings.Contains(errb.String(), "TOP") {
			t.Errorf("%v: the message echoes a secret: %s", tc.args, errb)
		}
	}
}

// TestMockwxServesAndStops runs the real command's server on a free port,
// talks HTTP to it and stops it through the command's context.
func TestMockwxServesAndStops(t *testing.T) {
	s, out, errb := testStdio(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	f := &factory{io: s}
	go func() {
		done <- runMockwx(ctx, f, &mockwxOptions{
			Addr: "127.0.0.1:0", Seed: "oactl", AppIDs: []string{"wxA"}, CodeTTL: time.Minute, JournalSize: 10,
			Ready: func(u string) { ready <- u },
		})
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("mockwx ended: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("mockwx not ready")
	}
	resp, err := http.Get(base + "/sns/jscode2session?appid=wxA&secret=topsecret&js_code=alice.1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), mockwx.OpenID("oactl", "wxA", "alice")) {
		t.Errorf("answer %s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mockwx did not stop")
	}
	if !strings.Contains(out.String(), base) {
		t.Errorf("stdout %q lacks the URL", out)
	}
	f.close() // flush the batched log, as run does on exit
	logs := errb.String()
	if strings.Count(logs, "msg=request") != 1 || strings.Contains(logs, "topsecret") || strings.Contains(logs, "alice.1") {
		t.Errorf("log: %s", logs)
	}
}

func sameOptions(a, b mockwxOptions) bool {
	a.Ready, b.Ready = nil, nil
	return a.Addr == b.Addr && a.Seed == b.Seed && slices.Equal(a.AppIDs, b.AppIDs) && slices.Equal(a.Secrets, b.Secrets) && slices.Equal(a.Apps, b.Apps) &&
		a.UnionID == b.UnionID && a.CodeTTL == b.CodeTTL && a.JournalSize == b.JournalSize && a.AllowRemote == b.AllowRemote
}
