package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tokenH is the header that carries the session token.
const tokenH = "X-OA-Token"

// Operations of one simulated user's round.
const (
	opLogin = iota
	opInfo
	opProfile
	opLogout
	opInfoAfterLogout
	numOps
)

var opNames = [numOps]string{"login", "info", "profile", "logout", "info (logged out)"}

// Outcomes that are not an errno.
const (
	outRefused   = 100001 // connection refused: nobody listening
	outClosed    = 100002 // connection closed or reset before an answer
	outTimeout   = 100003 // no answer within the client's 6 s
	outNotEnvelo = 100004 // an answer that is not the JSON envelope
	outOther     = 100005
)

func outcomeName(o int) string {
	switch o {
	case outRefused:
		return "refused"
	case outClosed:
		return "closed"
	case outTimeout:
		return "timeout"
	case outNotEnvelo:
		return "not-envelope"
	case outOther:
		return "other-error"
	}
	return "errno " + strconv.Itoa(o)
}

type sample struct {
	op         uint8
	serve      uint8 // which serve process answered (index of --db)
	outcome    int32
	start, end time.Duration // since the run began
}

// tally is what the clients know was (or may have been) written.
type tally struct {
	loginOK, loginMaybe   int // answered 0; failed in a way that may have committed
	logoutOK, logoutMaybe int
	identOK, identTried   map[string]bool
}

func (t *tally) add(o tally) {
	t.loginOK += o.loginOK
	t.loginMaybe += o.loginMaybe
	t.logoutOK += o.logoutOK
	t.logoutMaybe += o.logoutMaybe
	for k := range o.identOK {
		t.identOK[k] = true
	}
	for k := range o.identTried {
		t.identTried[k] = true
	}
}

// maybeWritten: an answer that does not prove nothing was written (the
// server may have committed before the failure reached the client).
func maybeWritten(outcome int) bool {
	return outcome == 502 || outcome >= outRefused && outcome != outRefused
}

// user runs one simulated user's rounds until deadline or maxRounds. Two
// users share each identity, so first logins of one openid race.
func (h *harness) user(ctx context.Context, u int, deadline time.Time) ([]sample, tally) {
	t := tally{identOK: map[string]bool{}, identTried: map[string]bool{}}
	var out []sample
	idents := max(h.o.users/2, 1)
	ident := fmt.Sprintf("user%d", u%idents)
	// Each user has a home serve process; with several, the check of the
	// dead token goes through the next one, so a logout must be seen
	// across processes (and, on a cluster, across nodes).
	home := u % len(h.serveAddrs)
	do := func(op int, method, path, token string, body any) (int, json.RawMessage) {
		serve := home
		if op == opInfoAfterLogout {
			serve = (home + 1) % len(h.serveAddrs)
		}
		start := h.since()
		outcome, data := h.call(ctx, serve, method, path, token, body)
		out = append(out, sample{op: uint8(op), serve: uint8(serve), outcome: int32(outcome), start: start, end: h.since()})
		return outcome, data
	}
	for round := 0; round < h.o.maxRounds && time.Now().Before(deadline); round++ {
		code := fmt.Sprintf("%s.%d.%d", ident, u, round)
		t.identTried[ident] = true
		oc, data := do(opLogin, "POST", "/wx/auth/login_by_weixin", "", map[string]any{
			"code":     code,
			"userInfo": map[string]any{"nickName": fmt.Sprintf("用户😀%d", u), "gender": u % 3, "avatarUrl": fmt.Sprintf("https://example.invalid/a%d.png", u)},
		})
		if oc != 0 {
			if maybeWritten(oc) {
				t.loginMaybe++
			}
			time.Sleep(20 * time.Millisecond) // no hot loop while the server is away
			continue
		}
		var ld struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(data, &ld) != nil || ld.Token == "" {
			out[len(out)-1].outcome = outNotEnvelo
			continue
		}
		t.loginOK++
		t.identOK[ident] = true
		if oc, _ := do(opInfo, "GET", "/wx/auth/info", ld.Token, nil); oc != 0 {
			continue
		}
		if oc, _ := do(opProfile, "POST", "/wx/auth/profile", ld.Token, map[string]any{"nickname": fmt.Sprintf("改名👨‍👩‍👧‍👦%d", round)}); oc != 0 {
			continue
		}
		oc, _ = do(opLogout, "POST", "/wx/auth/logout", ld.Token, nil)
		if oc != 0 {
			if maybeWritten(oc) {
				t.logoutMaybe++
			}
			continue
		}
		t.logoutOK++
		do(opInfoAfterLogout, "GET", "/wx/auth/info", ld.Token, nil)
	}
	return out, t
}

// call does one API request and returns its errno (or an out* outcome)
// and the envelope's data.
func (h *harness) call(ctx context.Context, serve int, method, path, token string, body any) (int, json.RawMessage) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return outOther, nil
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+h.serveAddrs[serve]+path, rd)
	if err != nil {
		return outOther, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set(tokenH, token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return classify(err), nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return classify(err), nil
	}
	var env struct {
		Errno *int            `json:"errno"`
		Data  json.RawMessage `json:"data"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &env) != nil || env.Errno == nil {
		return outNotEnvelo, nil
	}
	return *env.Errno, env.Data
}

func classify(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return outRefused
	case errors.As(err, &ne) && ne.Timeout():
		return outTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		strings.Contains(err.Error(), "server closed idle connection"):
		return outClosed
	}
	return outOther
}
