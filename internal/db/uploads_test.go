package db_test

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
	"github.com/oactl/oactl/internal/storage"
	"github.com/oactl/oactl/internal/testutil"
)

var _ storage.Records = (*db.DB)(nil)

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestUploadGC: on both backends, the upload record keeps owner, size and
// time; the collector, on an injected clock, deletes an unreferenced file
// and its record after --upload-retention, keeps one that a user's avatar
// points at (whoever that user is), and keeps an unreferenced one until
// its retention is up. An account's files are found and deleted by owner.
func TestUploadGC(t *testing.T) {
	dbtest.Backends(t, func(t *testing.T, dsn string) {
		d := migrated(t, dsn, db.Options{TimeZone: time.UTC})
		ctx := testCtx(t)
		clock := testutil.NewClock()
		s := &storage.Store{Dir: t.TempDir(), Records: d, Retention: 168 * time.Hour, Now: clock.Now}
		defer s.Close()
		alice, _ := login(t, d, record(uniq("oGCalice"), auth.Profile{}, clock.Now()))
		bob, _ := login(t, d, record(uniq("oGCbob"), auth.Profile{}, clock.Now()))
		save := func(owner int64) string {
			t.Helper()
			k, err := s.Save(ctx, owner, pngBytes(t))
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		avatarKey, orphanKey := save(alice.ID), save(alice.ID)
		// bob's avatar points at alice's upload: that is a reference too.
		sharedKey := save(alice.ID)
		clock.Add(time.Hour)
		youngKey := save(bob.ID)
		setAvatar := func(u auth.User, url string) {
			t.Helper()
			if _, err := d.UpdateProfile(ctx, u.ID, auth.ProfileUpdate{Avatar: &url}, clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		setAvatar(alice, "https://oa.example/wx/storage/fetch/"+avatarKey)
		setAvatar(bob, "http://127.0.0.1:8080/wx/storage/fetch/"+sharedKey)

		var owner int64
		var size int
		var created time.Time
		if err := d.SQL().QueryRowContext(ctx, `SELECT user_id, size, created_at FROM oa_upload WHERE file_key = ?`, youngKey).
			Scan(&owner, &size, db.TimeIn{Dst: &created, Loc: time.UTC}); err != nil {
			t.Fatal(err)
		}
		if owner != bob.ID || size != len(pngBytes(t)) || !created.Equal(clock.Now().Truncate(time.Second)) {
			t.Fatalf("record: owner %d size %d created %v", owner, size, created)
		}

		exists := func(k string) bool { _, err := os.Stat(filepath.Join(s.Dir, k)); return err == nil }
		clock.Add(167*time.Hour - time.Minute) // the first three are 1 minute short of 168h
		if n, err := s.Collect(ctx); n != 0 || err != nil {
			t.Fatalf("before the retention: %d, %v", n, err)
		}
		clock.Add(2 * time.Minute)
		if n, err := s.Collect(ctx); n != 1 || err != nil {
			t.Fatalf("after the retention: %d, %v", n, err)
		}
		if exists(orphanKey) || !exists(avatarKey) || !exists(sharedKey) || !exists(youngKey) {
			t.Fatalf("after collect: orphan %v avatar %v shared %v young %v", exists(orphanKey), exists(avatarKey), exists(sharedKey), exists(youngKey))
		}
		keys, err := d.UploadKeysOf(ctx, alice.ID)
		if err != nil || !slices.Equal(keys, []string{avatarKey, sharedKey}) {
			t.Fatalf("alice's uploads %v, %v", keys, err)
		}
		// The young one passes its retention unreferenced; alice changes
		// her avatar away from hers: both go at the next run.
		clock.Add(time.Hour)
		setAvatar(alice, "https://thirdwx.qlogo.cn/mmopen/x/132")
		if n, err := s.Collect(ctx); n != 2 || err != nil {
			t.Fatalf("third run: %d, %v", n, err)
		}
		if exists(avatarKey) || exists(youngKey) || !exists(sharedKey) {
			t.Fatal("the third run deleted the wrong files")
		}
		// Cancelling alice's account deletes her last file, though bob
		// still points at it.
		if n, err := s.DeleteOwner(ctx, alice.ID); n != 1 || err != nil || exists(sharedKey) {
			t.Fatalf("DeleteOwner: %d, %v", n, err)
		}
		var left int
		if err := d.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM oa_upload`).Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d records left, %v", left, err)
		}
	})
}
