package migrate

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/oactl/oactl/internal/db"
)

//go:embed migrations
var migrationFS embed.FS

// catalog declares what each step means beyond its SQL, in one place.
// The loader refuses files the catalog does not name and catalog entries
// without an up file, so a new step cannot land without saying what
// reverting it does. The SQL files themselves stay as they were applied:
// the checksum of an up file is recorded with the step.
var catalog = []stepInfo{
	{Version: 1, Name: "create_wx_user", adoptsSeed: true},
	{Version: 2, Name: "wx_user_openid_index"},
	{Version: 3, Name: "create_wx_session", DropsSessions: true},
	{Version: 4, Name: "wx_identity_and_session_appid"},
	{Version: 5, Name: "create_oa_upload"},
	{Version: 6, Name: "create_oa_audit_and_mobile_claim"},
}

type stepInfo struct {
	Version int
	Name    string
	// DropsSessions: reverting the step drops wx_session.
	DropsSessions bool
	// adoptsSeed: an existing wx_user identical to the seed's stands for
	// this step, which is then recorded without running its SQL.
	adoptsSeed bool
}

// Step is one embedded migration and what it means to the data.
type Step struct {
	Version  int
	Name     string
	Checksum string // hex SHA-256 of the up file, recorded when applied
	HasDown  bool   // false: the step cannot be reverted
	// DropsSessions: reverting the step drops wx_session, so every token
	// stops working and everyone must log in again.
	DropsSessions bool
}

// step is a Step with its SQL.
type step struct {
	Step
	adoptsSeed bool
	up, down   string
}

var stepFile = regexp.MustCompile(`^(\d{3})_([a-z0-9_]+)\.(up|down)\.sql$`)

// loadSteps reads the dialect's files and joins them to the catalog.
func loadSteps(dialect db.Dialect) ([]step, error) {
	dir := path.Join("migrations", string(dialect))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
	}
	steps := make([]step, len(catalog))
	for i, info := range catalog {
		if info.Version != i+1 {
			return nil, fmt.Errorf("migrations: catalog entry %d is step %d", i+1, info.Version)
		}
		steps[i] = step{Step: Step{Version: info.Version, Name: info.Name, DropsSessions: info.DropsSessions}, adoptsSeed: info.adoptsSeed}
	}
	for _, e := range entries {
		m := stepFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: unexpected file %s", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if v < 1 || v > len(steps) || steps[v-1].Name != m[2] {
			return nil, fmt.Errorf("migrations: %s is not in the step catalog", e.Name())
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		s := &steps[v-1]
		if m[3] == "up" {
			s.up = string(b)
			sum := sha256.Sum256(b)
			s.Checksum = hex.EncodeToString(sum[:])
		} else {
			s.down = string(b)
			s.HasDown = true
		}
	}
	for _, s := range steps {
		switch {
		case s.up == "":
			return nil, fmt.Errorf("migrations: step %d (%s) has no %s up file", s.Version, s.Name, dialect)
		case s.DropsSessions && !s.HasDown:
			return nil, fmt.Errorf("migrations: step %d (%s) drops sessions on a down it does not have", s.Version, s.Name)
		}
	}
	if len(steps) != db.SchemaVersion {
		return nil, fmt.Errorf("migrations: the latest step is %d, the stores need %d", len(steps), db.SchemaVersion)
	}
	return steps, nil
}

// statements splits a migration file into statements: our files end each
// statement with ';' at the end of a line, and "--" lines are comments.
func statements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(sqlText, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSpace(cur.String())
			out = append(out, strings.TrimSuffix(s, ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
