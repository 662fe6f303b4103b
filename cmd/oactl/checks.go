package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/db"
)

// origin names where each setting got its value (config.Set.Where), so
// that a check made after Resolve names the flag, variable or file key
// the user wrote. The zero value names the flag.
type origin func(name string) string

func (o origin) of(name string) string {
	if o == nil {
		return "--" + name
	}
	return o(name)
}

// checkListenAddr checks a listen address before anything is opened or
// created: host:port with a numeric port from 0 (any free one) to 65535.
// A bad one would otherwise fail only at the listen, after the database
// was opened (and, for SQLite, created and migrated).
func checkListenAddr(where, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port", where, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s %q: the port must be a number from 0 to 65535", where, addr)
	}
	return nil
}

// checkDSN parses a --db value before anything is opened or created; the
// error names the value's source but never the value, which may carry a
// password.
func checkDSN(where, dsn string) (db.Config, error) {
	cfg, err := db.ParseDSN(dsn)
	if err != nil {
		return db.Config{}, fmt.Errorf("%s: %w", where, err)
	}
	return cfg, nil
}

// warnPasswordFlag warns when --db on the command line carries a
// password: every user of the machine sees it in ps. It works anyway.
func warnPasswordFlag(log *slog.Logger, set *config.Set, cfg db.Config) {
	if set.Source("db") == config.FromFlag && cfg.MySQL != nil && cfg.MySQL.Passwd != "" {
		log.Warn("the --db flag carries a password, which ps shows to every user of this machine: set OA_DB (or OA_DB_FILE, or oa.db in --config) instead")
	}
}

// openDBError makes db.Open's errors the command's: a SQLite file that a
// reading command will not create names the command that does. Both exit
// 1; the message is one line.
func openDBError(err error, cfg db.Config) error {
	var ne *db.NotExistError
	if errors.As(err, &ne) {
		return withExit(exitFailure, fmt.Errorf("%s: `oactl migrate up --db %s` creates it (as does the first start of `oactl serve` or `oactl dev`)", ne, cfg.Redacted()))
	}
	return withExit(exitFailure, err)
}
