package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The connection, server and database defaults: what a table or a
// connection gets when it names no character set.

// charsetOf returns the character set a collation belongs to. MariaDB
// 11's uca1400 collations are shared by several sets but, as the server
// defaults of a utf8mb4 server, they stand for utf8mb4.
func charsetOf(collation string) string {
	c := strings.ToLower(collation)
	if strings.HasPrefix(c, "uca1400") {
		return "utf8mb4"
	}
	if i := strings.IndexByte(c, '_'); i > 0 {
		return c[:i]
	}
	return c
}

func isUTF8MB4(charset string) bool { return strings.EqualFold(charset, "utf8mb4") }

// charsetName explains MySQL's aliases: "utf8" is utf8mb3 on every server
// oactl supports (MySQL 8.0.30+ and MariaDB 10.6+ print utf8mb3).
func charsetName(cs string) string {
	switch strings.ToLower(cs) {
	case "utf8", "utf8mb3":
		return cs + " (utf8mb3: at most 3 bytes a character, no emoji)"
	case "latin1":
		return "latin1 (no Chinese, no emoji)"
	}
	return cs
}

const serverConfig = `[mysqld]
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci

[client]
default-character-set = utf8mb4`

func checkConnection(ctx context.Context, conn *sql.Conn, r *Report) error {
	var client, connection, collation string
	var results sql.NullString
	err := conn.QueryRowContext(ctx, "SELECT @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection").
		Scan(&client, &connection, &results, &collation)
	if err != nil {
		return fmt.Errorf("check: connection charset: %w", err)
	}
	f := Finding{ID: "connection.charset"}
	// A NULL character_set_results means "send as stored": fine for
	// utf8mb4 columns.
	resultsOK := !results.Valid || isUTF8MB4(results.String)
	desc := fmt.Sprintf("character_set_client=%s, character_set_connection=%s, character_set_results=%s, collation_connection=%s",
		client, connection, nullText(results), collation)
	if isUTF8MB4(client) && isUTF8MB4(connection) && resultsOK && isUTF8MB4(charsetOf(collation)) {
		f.Status = SeverityOK
		f.Summary = "the connection speaks utf8mb4 (" + collation + ")"
		f.Detail = desc
	} else {
		f.Status = SeverityFail
		f.Summary = "the connection does not speak utf8mb4: emoji are converted to '?' on the way in"
		f.Detail = desc + ". oactl asks for charset=utf8mb4 in the handshake; a server started with " +
			"skip-character-set-client-handshake, or an init_connect that runs SET NAMES, overrides it."
		f.FixSQL = "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci;"
		f.FixConfig = serverConfig + "\n# and remove skip-character-set-client-handshake and any init_connect='SET NAMES ...'"
	}
	r.add(f)
	return nil
}

func nullText(s sql.NullString) string {
	if !s.Valid {
		return "NULL"
	}
	return s.String
}

func checkServerDefaults(ctx context.Context, conn *sql.Conn, r *Report) error {
	var cs, coll string
	// GLOBAL, not SESSION: the session copies were set by our handshake,
	// and SET GLOBAL (the fix) takes effect in the global ones at once.
	if err := conn.QueryRowContext(ctx, "SELECT @@GLOBAL.character_set_server, @@GLOBAL.collation_server").Scan(&cs, &coll); err != nil {
		return fmt.Errorf("check: server charset: %w", err)
	}
	f := Finding{ID: "server.charset", Detail: fmt.Sprintf("character_set_server=%s, collation_server=%s", cs, coll)}
	if isUTF8MB4(cs) {
		f.Status = SeverityOK
		f.Summary = "the server's default character set is utf8mb4 (" + coll + ")"
	} else {
		f.Status = SeverityFail
		f.Summary = "the server's default character set is " + charsetName(cs)
		f.Detail += ". Databases and tables created without an explicit character set (a restore, a new " +
			"schema, another tool) get it, and cannot store emoji. SET GLOBAL lasts until the server restarts: " +
			"put the my.cnf / my.ini lines in place too (MySQL 8 may use SET PERSIST instead)."
		f.FixSQL = "SET GLOBAL character_set_server = 'utf8mb4';\nSET GLOBAL collation_server = 'utf8mb4_general_ci';"
		f.FixConfig = serverConfig
	}
	r.add(f)
	return nil
}

func checkDatabaseDefaults(ctx context.Context, conn *sql.Conn, r *Report) error {
	var cs, coll string
	err := conn.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()").
		Scan(&cs, &coll)
	if err != nil {
		return fmt.Errorf("check: database charset: %w", err)
	}
	f := Finding{ID: "database.charset", Detail: fmt.Sprintf("database %s: DEFAULT CHARACTER SET %s COLLATE %s", r.Database, cs, coll)}
	if isUTF8MB4(cs) {
		f.Status = SeverityOK
		f.Summary = "the database's default character set is utf8mb4 (" + coll + ")"
	} else {
		f.Status = SeverityFail
		f.Summary = "the database " + r.Database + " defaults to " + charsetName(cs)
		f.Detail += ". New tables get this default. ALTER DATABASE changes only the default: existing " +
			"tables keep their character set (see the table findings)."
		f.FixSQL = fmt.Sprintf("ALTER DATABASE %s CHARACTER SET utf8mb4 COLLATE %s;", quoteIdent(r.Database), wantCollation)
		f.FixConfig = serverConfig + "\n# character-set-server is the default of databases created later"
	}
	r.add(f)
	return nil
}

func isBinaryCharset(cs string) bool { return strings.EqualFold(cs, "binary") }
