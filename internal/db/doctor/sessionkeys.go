package doctor

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"

	"github.com/oactl/oactl/internal/db"
)

// keySample is how many rows are read from each end of wx_session.
const keySample = 50

// internal/keyseal's formats: v2 (HKDF-SHA256) and the legacy v1 (one
// SHA-256 of the secret). A WeChat session_key is base64 and holds no ':'.
var (
	sealedV2 = []byte("v2:")
	sealedV1 = []byte("v1:")
)

// checkSessionKeys samples the oldest and newest rows of wx_session by
// primary key: bounded work however large the table is, and it catches
// both keys stored before a secret was configured and keys stored after
// one was removed.
func checkSessionKeys(ctx context.Context, conn *sql.Conn, r *Report, dialect db.Dialect) error {
	mysql := dialect == db.MySQL
	exists, err := tableExists(ctx, conn, dialect, tableSession)
	if err != nil || !exists {
		return err
	}
	// A wx_session of another shape (no session_key) has nothing to say.
	if _, err := conn.ExecContext(ctx, "SELECT session_key FROM "+tableSession+" LIMIT 0"); err != nil {
		return nil //nolint:nilerr // the column is absent, not an error of the check
	}
	pk := "rowid"
	if mysql {
		var cols []string
		rows, err := conn.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.STATISTICS "+
			"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'", tableSession)
		if err != nil {
			return fmt.Errorf("check: wx_session key: %w", err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return fmt.Errorf("check: wx_session key: %w", err)
			}
			cols = append(cols, c)
		}
		if err := closeRows(rows); err != nil {
			return fmt.Errorf("check: wx_session key: %w", err)
		}
		if len(cols) != 1 {
			return nil // no single-column primary key to read by: leave the finding out
		}
		col := cols[0]
		pk = quoteIdent(col)
	}
	one := fmt.Sprintf("SELECT %s AS k, session_key FROM %s ORDER BY %s %%s LIMIT %d", pk, tableSession, pk, keySample)
	q := "SELECT k, session_key FROM (" + fmt.Sprintf(one, "ASC") + ") a UNION ALL SELECT k, session_key FROM (" + fmt.Sprintf(one, "DESC") + ") b"
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("check: sample wx_session: %w", err)
	}
	sampled, plain, legacy := 0, 0, 0
	seen := map[string]bool{} // a small table shows the same rows at both ends
	for rows.Next() {
		// Read as bytes and look only at the prefix: the key itself is
		// never kept, printed or logged.
		var id string
		var k []byte
		if err := rows.Scan(&id, &k); err != nil {
			rows.Close()
			return fmt.Errorf("check: sample wx_session: %w", err)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		sampled++
		switch {
		case bytes.HasPrefix(k, sealedV1):
			legacy++
		case len(k) > 0 && !bytes.HasPrefix(k, sealedV2):
			plain++
		}
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("check: sample wx_session: %w", err)
	}
	f := Finding{ID: "session_keys"}
	switch {
	case sampled == 0:
		f.Status = SeverityOK
		f.Summary = "wx_session is empty: no session keys stored"
	case plain == 0 && legacy == 0:
		f.Status = SeverityOK
		f.Summary = "the sampled session keys are encrypted (v2: sealed)"
		f.Detail = fmt.Sprintf("%d rows sampled (the oldest and newest %d by primary key)", sampled, keySample)
	case plain == 0:
		f.Status = SeverityWarn
		f.Summary = "some session keys are sealed with the old SHA-256 key derivation (v1:)"
		f.Detail = fmt.Sprintf("%d of %d sampled rows (the oldest and newest %d by primary key) hold a v1: session_key. "+
			"They still open, but run oactl sessions rekey to seal them again with the HKDF-SHA256 key (v2:).", legacy, sampled, keySample)
		f.FixConfig = "# with the current secret (and the old one after it, if it changed):\nOA_SESSION_KEY_SECRET=NEW,OLD oactl sessions rekey"
	default:
		f.Status = SeverityWarn
		f.Summary = "session keys are stored unencrypted: anyone who reads the database can decrypt users' WeChat data"
		f.Detail = fmt.Sprintf("%d of %d sampled rows (the oldest and newest %d by primary key) hold a session_key without a seal. "+
			"oactl serve seals only the keys of new logins: start it with a session-key secret, then run oactl sessions rekey "+
			"with that secret to seal the keys already stored.", plain, sampled, keySample)
		f.FixConfig = "# oactl serve, in the environment (or OA_SESSION_KEY_SECRET_FILE naming a file that holds it):\nOA_SESSION_KEY_SECRET=<at least 32 random bytes, e.g. openssl rand -base64 32>\n" +
			"# then, with the same secret: oactl sessions rekey"
	}
	r.add(f)
	return nil
}
