package inspect

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"github.com/oactl/oactl/internal/testutil"
)

// TestRunNoColor runs the real program loop on plain streams: with
// NO_COLOR nothing drawn carries a colour or bold sequence; without it the
// same screen does (so the check can fail).
func TestRunNoColor(t *testing.T) {
	sgr := regexp.MustCompile(`\x1b\[[0-9;]*[1-9][0-9;]*m`)
	for _, noColor := range []bool{true, false} {
		out := &testutil.Buffer{}
		colour := &Colors{Profile: termenv.TrueColor, Dark: true} // what a colour terminal gets
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		in, w := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Options{Lister: newFake(), Now: func() time.Time { return testNow }, Colors: colour}, in, out, noColor)
		}()
		for !strings.Contains(out.String(), "30 loaded") && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		if ctx.Err() != nil {
			t.Fatalf("never drawn: %q", out.String())
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		w.Close()
		if got := sgr.FindString(out.String()); (got != "") == noColor {
			t.Errorf("noColor %v: styling sequence %q", noColor, got)
		}
	}
}

// TestDetectColorsOnAPipe: output that is not a terminal is drawn plain,
// and no question about its background is written to it.
func TestDetectColorsOnAPipe(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	t.Setenv("CLICOLOR_FORCE", "")
	out := &testutil.Buffer{}
	if c := DetectColors(out); c.Profile != termenv.Ascii || !c.Dark {
		t.Errorf("DetectColors on a buffer = %+v, want plain text", c)
	}
	if out.String() != "" {
		t.Errorf("DetectColors wrote %q to a buffer", out.String())
	}
}
