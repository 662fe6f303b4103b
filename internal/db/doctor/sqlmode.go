package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// checkSQLMode warns when the server is not strict: then a character a
// column cannot hold is lost without an error.
func checkSQLMode(ctx context.Context, conn *sql.Conn, r *Report) error {
	var global, session string
	if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.sql_mode, @@SESSION.sql_mode").Scan(&global, &session); err != nil {
		return fmt.Errorf("check: sql_mode: %w", err)
	}
	f := Finding{ID: "sql_mode", Detail: fmt.Sprintf("global sql_mode=%q, this connection's sql_mode=%q", global, session)}
	if strictMode(global) && strictMode(session) {
		f.Status = SeverityOK
		f.Summary = "sql_mode is strict: a character a column cannot hold is refused (error 1366), not lost"
		r.add(f)
		return nil
	}
	f.Status = SeverityWarn
	f.Summary = "sql_mode is not strict: MySQL silently writes '?' for every character a column cannot hold"
	f.Detail += ". Without STRICT_TRANS_TABLES an emoji sent to a utf8mb3 or latin1 column is stored as '?' with only a warning, " +
		"so the data is lost without an error anywhere. Test the Java backend before turning strictness on: it may rely on silent truncation."
	mode := addStrict(global)
	f.FixSQL = "SET GLOBAL sql_mode = " + quoteString(mode) + ";"
	f.FixConfig = "[mysqld]\nsql_mode = " + mode
	r.add(f)
	return nil
}

func strictMode(mode string) bool {
	for _, m := range strings.Split(strings.ToUpper(mode), ",") {
		if m == "STRICT_TRANS_TABLES" || m == "STRICT_ALL_TABLES" {
			return true
		}
	}
	return false
}

func addStrict(mode string) string {
	if strings.TrimSpace(mode) == "" {
		return "STRICT_TRANS_TABLES"
	}
	return "STRICT_TRANS_TABLES," + mode
}
