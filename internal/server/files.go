package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/oactl/oactl/internal/storage"
)

// OpenFiles returns the avatar store serve runs on: files under dir
// (created 0700 now, so that a directory that cannot be made stops serve
// before its first upload), every upload recorded in records and
// collected by CollectUploadsJob once retention has passed. Close it when
// the server stops.
func OpenFiles(dir string, records storage.Records, retention time.Duration, logger *slog.Logger) (*storage.Store, error) {
	files := &storage.Store{Dir: dir, Records: records, Retention: retention, Logger: logger}
	if err := files.Prepare(); err != nil {
		return nil, err
	}
	return files, nil
}

// CollectUploadsJob deletes, every interval, the uploads that no avatar
// points at once their retention has passed. Every serve process runs it;
// the deletes are idempotent.
func CollectUploadsJob(files *storage.Store, every time.Duration, logger *slog.Logger) Job {
	return Job{Every: every, Run: func(ctx context.Context) {
		n, err := files.Collect(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("delete unreferenced uploads", "err", err, "deleted", n)
		case n > 0:
			logger.Info("deleted unreferenced uploads", "count", n)
		}
	}}
}
