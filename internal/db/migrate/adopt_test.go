package migrate

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

func TestNormaliseType(t *testing.T) {
	for in, want := range map[string]string{
		"int(11)": "int", "INT": "int", "tinyint(3)": "tinyint", "tinyint(1)": "tinyint(1)",
		"bigint(20) unsigned": "bigint unsigned", "varchar(63)": "varchar(63)", "datetime(0)": "datetime",
		"datetime(3)": "datetime(3)", "tinyint(4)": "tinyint",
	} {
		if got := normaliseType(in); got != want {
			t.Errorf("normaliseType(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"utf8": "utf8mb3", "utf8_general_ci": "utf8mb3_general_ci", "utf8mb4": "utf8mb4", "UTF8MB3": "utf8mb3"} {
		if got := normaliseCharset(in); got != want {
			t.Errorf("normaliseCharset(%q) = %q, want %q", in, got, want)
		}
	}
}

// seedStatement is the seed's statement as the Java backend ran it.
func seedStatement(t *testing.T, d *db.DB) string {
	t.Helper()
	steps, err := loadSteps(d.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	return statements(steps[0].up)[0]
}

func TestAdoptSeedTable(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		ctx := testCtx(t)
		d := dbtest.Open(t, dsn, db.Options{})
		if _, err := d.SQL().ExecContext(ctx, seedStatement(t, d)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.SQL().ExecContext(ctx, `INSERT INTO wx_user (username, password, weixin_openid, status, deleted, nickname)
			VALUES ('old-user', 'x', 'oOld', 0, 0, 'old-user')`); err != nil {
			t.Fatal(err)
		}
		m := New(d, Options{})
		st, err := m.Status(ctx)
		if err != nil || !st.Adoptable || st.Current != 0 {
			t.Fatalf("status of a seed table = %+v, %v", st, err)
		}
		p, err := m.Plan(ctx, Up, 0)
		if err != nil || len(p.Changes) != db.SchemaVersion || p.Changes[0].Action != ActionAdopt || len(p.Changes[0].SQL) != 1 ||
			!strings.HasPrefix(p.Changes[0].SQL[0], "INSERT INTO "+db.VersionTable) {
			t.Fatalf("plan over a seed table = %+v, %v", p, err)
		}
		got, err := m.Up(ctx, 0)
		if err != nil || !slices.Equal(versions(got), []int{1, 2, 3, 4, 5, 6}) {
			t.Fatalf("Up = %v, %v", versions(got), err)
		}
		if got[0].Action != ActionAdopt || got[1].Action != ActionUp {
			t.Errorf("actions %s %s, want adopt up", got[0].Action, got[1].Action)
		}
		var n int
		if err := d.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM wx_user WHERE username = 'old-user'").Scan(&n); err != nil || n != 1 {
			t.Fatalf("adoption lost the row: %d, %v", n, err)
		}
	})
}

func TestAdoptDifferentTable(t *testing.T) {
	dsn := dbtest.MySQL(t)
	ctx := testCtx(t)
	d := dbtest.Open(t, dsn, db.Options{})
	m := New(d, Options{})
	ddl := seedStatement(t, d)
	// Differences: a wider nickname, a utf8mb3 avatar, no share_user_id,
	// an extra column.
	ddl = strings.Replace(ddl, "`nickname` varchar(63)", "`nickname` varchar(100)", 1)
	ddl = strings.Replace(ddl, "`avatar` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", "`avatar` varchar(255) CHARACTER SET utf8 COLLATE utf8_general_ci", 1)
	ddl = strings.Replace(ddl, ",`share_user_id` int(11) NULL DEFAULT NULL", ",`extra_col` int NULL", 1)
	if _, err := d.SQL().ExecContext(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	st, err := m.Status(ctx)
	if err != nil || st.Adoptable {
		t.Fatalf("status = %+v, %v", st, err)
	}
	var ae *AdoptionError
	if _, err := m.Plan(ctx, Up, 0); !errors.As(err, &ae) {
		t.Fatalf("Plan = %v, want an AdoptionError", err)
	}
	_, err = m.Up(ctx, 0)
	if !errors.As(err, &ae) {
		t.Fatalf("Up = %v, want an AdoptionError", err)
	}
	var cols []string
	for _, c := range ae.Diffs {
		cols = append(cols, c.Column)
	}
	if !slices.Equal(cols, []string{"nickname", "avatar", "share_user_id", "extra_col"}) {
		t.Errorf("differing columns %v\n%v", cols, err)
	}
	if !strings.Contains(err.Error(), "utf8mb3") || !strings.Contains(err.Error(), "varchar(100)") {
		t.Errorf("message does not say what differs: %v", err)
	}
	if names := tableNames(t, d); !slices.Equal(names, []string{"wx_user"}) {
		t.Errorf("tables after a refused adoption: %v", names)
	}
	if st, _ := m.Status(ctx); st.Current != 0 {
		t.Errorf("a step was recorded: %+v", st)
	}
}
