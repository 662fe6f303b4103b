package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/server"
)

// uploadRecords is the record of uploads (internal/storage's Records,
// which *db.DB implements), named here because cmd does not import the
// file store.
type uploadRecords interface {
	AddUpload(ctx context.Context, key string, owner, size int64, at time.Time) error
	UnreferencedUploads(ctx context.Context, before time.Time, limit int) ([]string, error)
	UploadKeysOf(ctx context.Context, owner int64) ([]string, error)
	DeleteUploads(ctx context.Context, keys []string) (int64, error)
}

// userFiles is what deletes a cancelled user's uploads for users cancel:
// the avatar store on dir, as serve opens it, when dir exists here. When
// it does not (support works on another machine than serve), no file is
// deleted and no record either: the cancel emptied the user's avatar, so
// serve's collector deletes those uploads once --upload-retention has
// passed. Creating an empty directory here, or dropping the records of
// files this machine cannot see, would leave them on serve's disk for
// good. The returned close is never nil.
func userFiles(w io.Writer, dir string, records uploadRecords) (auth.UserFiles, func(), error) {
	nop := func() {}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		fmt.Fprintf(w, "oactl: --storage-dir %s is not a directory here: uploads are left to serve's collector (--upload-retention after each upload)\n", dir)
		return nil, nop, nil
	}
	files, err := server.OpenFiles(dir, records, 0, nil)
	if err != nil {
		return nil, nop, fmt.Errorf("--storage-dir %s: %w", dir, err)
	}
	return files, func() { files.Close() }, nil
}
