package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
)

func init() {
	register(func(f *factory) *cobra.Command { return newProbeCmd(f, nil) })
}

// probeTimeout bounds the whole probe (connect, answer, body): a health
// check that hangs is a failed one.
var probeTimeout = 5 * time.Second

// probeBodyMax is how much of the answer a probe reads and quotes.
const probeBodyMax = 512

// probeOptions is what `oactl probe` is told; it has no settings.
type probeOptions struct {
	URL string
}

func newProbeCmd(f *factory, runF func(*probeOptions) error) *cobra.Command {
	o := &probeOptions{}
	return &cobra.Command{
		Use:   "probe URL",
		Short: "Exit 0 when URL answers HTTP 200 (a health check for images without curl)",
		Long: `probe sends GET URL and exits 0 when the answer is HTTP 200, 1 on any other
status, a redirect, a refused connection or no answer within 5s, and 2 on a
URL that is not http(s). It prints the status and the start of the body.
The container image's HEALTHCHECK runs it against serve's /readyz.`,
		Example: `  oactl probe http://127.0.0.1:8080/readyz
  oactl probe http://127.0.0.1:8080/healthz || echo down`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(args[0])
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageError("probe: %q: want an http:// or https:// URL", args[0])
			}
			o.URL = u.String()
			if runF != nil {
				return runF(o)
			}
			return runProbe(cmd.Context(), f.io, o)
		},
	}
}

func runProbe(ctx context.Context, s *stdio, o *probeOptions) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	client := &http.Client{
		// Straight to the address: a proxy from the environment has no
		// business in a health check.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
	if err != nil {
		return usageError("probe: %v", err)
	}
	req.Header.Set("User-Agent", "oactl-probe")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("probe %s: no answer within %v", o.URL, probeTimeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("probe %s: %w", o.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, probeBodyMax))
	line := resp.Status
	if b := printable(strings.Join(strings.Fields(string(body)), " ")); b != "" {
		line += ": " + b
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe %s: %s", o.URL, line)
	}
	_, err = fmt.Fprintln(s.Out, line)
	return err
}

// printable replaces what a terminal would interpret (escapes, controls)
// in text quoted from a server.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}
