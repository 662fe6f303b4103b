package doctor

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/oactl/oactl/internal/db"
)

// roundTripSamples are the characters MySQL's utf8 (utf8mb3) cannot hold:
// a 4-byte emoji, a ZWJ family (7 code points, 25 bytes) and a CJK
// Extension B ideograph, which Chinese names do contain.
var roundTripSamples = []string{"😀", "👨‍👩‍👧‍👦", "𠜎"}

const checkTmpTable = "oactl_check_roundtrip"

// checkRoundTrip writes the samples into a temporary copy of wx_user on
// this connection and reads them back by primary key, comparing bytes.
// Reading back WHERE nickname = ? would prove nothing: under
// utf8mb4_general_ci every 4-byte character compares equal to every other.
func checkRoundTrip(ctx context.Context, conn *sql.Conn, r *Report, dialect db.Dialect) error {
	f := Finding{ID: "roundtrip"}
	mysql := dialect == db.MySQL
	exists, err := tableExists(ctx, conn, dialect, tableUser)
	if err != nil {
		return err
	}
	tmp := checkTmpTable
	var create []string
	switch {
	case mysql && exists:
		create = []string{"CREATE TEMPORARY TABLE " + tmp + " LIKE " + tableUser}
	case mysql:
		create = []string{"CREATE TEMPORARY TABLE " + tmp + " (id INT NOT NULL PRIMARY KEY, username VARCHAR(63) NOT NULL, nickname VARCHAR(63) NOT NULL DEFAULT '') ENGINE=InnoDB"}
	case exists:
		create = []string{"CREATE TEMP TABLE " + tmp + " AS SELECT * FROM " + tableUser + " WHERE 0"}
	default:
		create = []string{"CREATE TEMP TABLE " + tmp + " (id INTEGER PRIMARY KEY, username TEXT NOT NULL, nickname TEXT NOT NULL DEFAULT '')"}
	}
	drop := "DROP TABLE IF EXISTS temp." + tmp
	if mysql {
		drop = "DROP TEMPORARY TABLE IF EXISTS " + tmp
	}
	if _, err := conn.ExecContext(ctx, drop); err != nil {
		return fmt.Errorf("check: round trip: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), drop) }()
	for _, s := range create {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			f.Status = SeverityFail
			f.Summary = "could not create a temporary table for the round trip"
			f.Detail = err.Error()
			r.add(f)
			return nil
		}
	}
	where := "a temporary copy of wx_user (CREATE TEMPORARY TABLE ... LIKE wx_user)"
	if !mysql {
		where = "a temporary copy of wx_user (CREATE TEMP TABLE ... AS SELECT * FROM wx_user WHERE 0)"
	}
	if !exists {
		where = "a temporary table with the database's default character set (wx_user does not exist yet)"
	}
	var lines []string
	failed := false
	for i, s := range roundTripSamples {
		id := i + 1
		if _, err := conn.ExecContext(ctx, "INSERT INTO "+tmp+" (id, username, nickname) VALUES (?, ?, ?)",
			id, fmt.Sprintf("oactl-check-%d", id), s); err != nil {
			failed = true
			lines = append(lines, fmt.Sprintf("%s (%d bytes): refused: %v", s, len(s), err))
			continue
		}
		var got []byte
		if err := conn.QueryRowContext(ctx, "SELECT nickname FROM "+tmp+" WHERE id = ?", id).Scan(&got); err != nil {
			return fmt.Errorf("check: round trip read: %w", err)
		}
		if !bytes.Equal(got, []byte(s)) {
			failed = true
			lines = append(lines, fmt.Sprintf("%s (% X): came back as % X", s, []byte(s), got))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s (%d bytes): identical", s, len(s)))
	}
	f.Detail = "through " + where + ", read back by primary key and compared byte for byte:\n" + strings.Join(lines, "\n")
	if failed {
		f.Status = SeverityFail
		f.Summary = "emoji do not survive a round trip through wx_user's columns"
		f.FixSQL = "-- apply the fixes of the charset findings above"
	} else {
		f.Status = SeverityOK
		f.Summary = "😀, 👨‍👩‍👧‍👦 and 𠜎 survive a round trip byte for byte"
	}
	r.add(f)
	return nil
}
