package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersionAndDashDashVersionAgree(t *testing.T) {
	s, out, errb := testStdio(nil)
	if code := run([]string{"version"}, s); code != 0 {
		t.Fatalf("version: exit %d %s", code, errb)
	}
	s2, out2, errb2 := testStdio(nil)
	if code := run([]string{"--version"}, s2); code != 0 {
		t.Fatalf("--version: exit %d %s", code, errb2)
	}
	if out.String() != out2.String() {
		t.Errorf("version %q and --version %q differ", out, out2)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "oactl ") || !strings.HasPrefix(lines[1], "commit: ") ||
		!strings.HasPrefix(lines[2], "built: ") || lines[3] != "go:      "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version output:\n%s", out)
	}
}

// TestVersionStamps: what a release build stamps with -ldflags -X wins
// over the build information (scripts/release-check runs a real one).
func TestVersionStamps(t *testing.T) {
	defer func(v, c, b string) { version, commit, buildTime = v, c, b }(version, commit, buildTime)
	version, commit, buildTime = "v1.2.3", "0123456789abcdef0123456789abcdef01234567", "2026-01-02T03:04:05Z"
	got := readBuildInfo().String()
	want := "oactl v1.2.3\ncommit:  0123456789abcdef0123456789abcdef01234567\nbuilt:   2026-01-02T03:04:05Z\n"
	if !strings.HasPrefix(got, want) {
		t.Errorf("got\n%s\nwant it to start with\n%s", got, want)
	}
	version, commit, buildTime = "", "", ""
	if b := readBuildInfo(); b.Version == "" || b.Commit == "" || b.Built == "" {
		t.Errorf("an unstamped build has empty fields: %+v", b)
	}
}

// TestPasswordOnTheDBFlagWarns: the flag works but the warning names
// OA_DB; the same DSN from OA_DB gives no warning.
func TestPasswordOnTheDBFlagWarns(t *testing.T) {
	dsn := "mysql://oa:FlagPassw0rd@" + freeAddr(t) + "/oa?timeout=1s"
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		warn bool
	}{
		{"flag", []string{"migrate", "status", "--db", dsn}, nil, true},
		{"env", []string{"migrate", "status"}, map[string]string{"OA_DB": dsn}, false},
		{"flag without a password", []string{"migrate", "status", "--db", "mysql://oa@" + freeAddr(t) + "/oa?timeout=1s"}, nil, false},
		{"sessions flag", []string{"sessions", "list", "--db", dsn}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, errb := testStdio(tc.env)
			if code := run(tc.args, s); code != exitFailure {
				t.Fatalf("exit %d, want 1 (nothing listens): %s", code, errb)
			}
			warned := strings.Contains(errb.String(), "the --db flag carries a password") && strings.Contains(errb.String(), "set OA_DB")
			if warned != tc.warn {
				t.Errorf("warned %v, want %v:\n%s", warned, tc.warn, errb)
			}
			if strings.Contains(errb.String(), "FlagPassw0rd") {
				t.Errorf("the password was printed:\n%s", errb)
			}
		})
	}
}
