package db

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The methods of this file implement internal/storage's Records (checked
// in the tests: db does not import storage, whose types it does not need).

// AddUpload records an upload: its key, owner, size and time (UTC).
func (d *DB) AddUpload(ctx context.Context, key string, owner, size int64, at time.Time) error {
	_, err := d.execCount(ctx, "record upload", `INSERT INTO oa_upload (file_key, user_id, size, created_at) VALUES (?, ?, ?, ?)`,
		key, owner, size, d.UTCTime(at))
	return err
}

// referencedKeys is every key an avatar points at: the last path segment
// of each wx_user.avatar, read where a key can end it. Keys are 32 hex
// digits and an extension of 3 or 4 letters (storage's key shape), so the
// segment is the avatar's last 36 or 37 characters after a '/'. Both
// dialects take a negative start in SUBSTR, and the subquery does not
// depend on the outer row, so each engine reads wx_user once per query
// and probes the set, instead of matching every upload against every
// avatar with LIKE.
const referencedKeys = `SELECT SUBSTR(avatar, -36) FROM wx_user WHERE SUBSTR(avatar, -37, 1) = '/'
	UNION SELECT SUBSTR(avatar, -37) FROM wx_user WHERE SUBSTR(avatar, -38, 1) = '/'`

// UnreferencedUploads returns up to limit keys of uploads made before
// before that no wx_user.avatar points at, oldest first.
func (d *DB) UnreferencedUploads(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return d.uploadKeys(ctx, "unreferenced uploads", `SELECT file_key FROM oa_upload WHERE created_at < ?
		AND file_key NOT IN (`+referencedKeys+`) ORDER BY created_at LIMIT ?`, d.UTCTime(before), limit)
}

// UploadKeysOf returns the keys of every upload of owner.
func (d *DB) UploadKeysOf(ctx context.Context, owner int64) ([]string, error) {
	return d.uploadKeys(ctx, "uploads of user", `SELECT file_key FROM oa_upload WHERE user_id = ? ORDER BY created_at`, owner)
}

func (d *DB) uploadKeys(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := d.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return keys, nil
}

// DeleteUploads deletes the records of keys and returns how many it
// deleted.
func (d *DB) DeleteUploads(ctx context.Context, keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	q := `DELETE FROM oa_upload WHERE file_key IN (?` + strings.Repeat(", ?", len(keys)-1) + `)`
	return d.execCount(ctx, "delete upload records", q, args...)
}
