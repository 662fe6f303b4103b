package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Server is what Open found out about a MySQL-protocol server: which
// engine it is and whether it is a node of a Galera cluster. The zero
// value is SQLite's (or a server that was not asked).
type Server struct {
	// Version is VERSION(): "10.11.6-MariaDB-0+deb12u1", "8.0.36",
	// "8.0.11-TiDB-v7.5.1".
	Version string
	MariaDB bool
	// TiDB: the engine reports Compact as every table's row format, has
	// no CHECKSUM TABLE and refuses to change the collation of an indexed
	// column (error 8200); GET_LOCK works cluster-wide. See
	// docs/CLUSTER.md.
	TiDB bool
	// Galera: wsrep_on is ON. GET_LOCK is then per node, and a node
	// applies other nodes' writes asynchronously: every connection sets
	// wsrep_sync_wait (GaleraSyncWait) so that it reads its own cluster's
	// latest commits.
	Galera bool
}

// IsTiDB reports whether a VERSION() string is TiDB's, which reports
// itself as a MySQL version followed by "-TiDB-" and its own.
func IsTiDB(version string) bool { return strings.Contains(strings.ToLower(version), "-tidb-") }

// GaleraSyncWait is the wsrep_sync_wait every connection to a Galera node
// sets: 1 (reads and BEGIN) makes a read see every transaction the cluster
// committed before it started, so a revoke, logout or disable on one node
// is seen by the next request on any other (SPEC §7); 2 (UPDATE and
// DELETE) makes a write by key find a row another node just inserted:
// without it, `sessions revoke` of a session created a moment ago through
// another node could match no row and take it for already revoked. INSERTs
// need no wait: a conflicting one fails certification (1213) and is
// retried.
const GaleraSyncWait = 1 | 2

const syncWaitParam = "wsrep_sync_wait"

// ErrNodeNotReady: the server is a Galera node that is not Synced in a
// Primary component (joining, donor, desynced, or cut off from the
// majority): /readyz answers 503 until it is.
var ErrNodeNotReady = errors.New("galera node not ready")

// Server reports what Open found out about the server (zero on SQLite).
func (d *DB) Server() Server { return d.server }

// detectServer asks the server what it is. SHOW VARIABLES answers on
// every MySQL-protocol server (an unknown name is no row), so the probe
// itself never fails on MySQL or TiDB.
func detectServer(ctx context.Context, q Queryer) (Server, error) {
	var s Server
	if err := q.QueryRowContext(ctx, "SELECT VERSION()").Scan(&s.Version); err != nil {
		return s, fmt.Errorf("server version: %w", err)
	}
	s.TiDB = IsTiDB(s.Version)
	s.MariaDB = strings.Contains(strings.ToLower(s.Version), "mariadb")
	var name, value string
	err := q.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'").Scan(&name, &value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return s, fmt.Errorf("server kind: %w", err)
	default:
		s.Galera = strings.EqualFold(value, "ON")
	}
	return s, nil
}

// withSyncWait returns the driver parameters with wsrep_sync_wait
// covering GaleraSyncWait: a value the DSN gives is kept when it covers
// it (e.g. 7 or 15), otherwise the missing bits are added. ok is false
// when the DSN's value is not a number.
func withSyncWait(params map[string]string) (out map[string]string, changed, ok bool) {
	out = make(map[string]string, len(params)+1)
	for k, v := range params {
		out[k] = v
	}
	want := GaleraSyncWait
	if v, set := params[syncWaitParam]; set {
		n, err := strconv.Atoi(strings.Trim(v, "'\""))
		if err != nil || n < 0 {
			return params, false, false
		}
		if n&want == want {
			return params, false, true
		}
		want |= n
	}
	out[syncWaitParam] = strconv.Itoa(want)
	return out, true, true
}

// galeraState reads the node's local state and cluster status. SHOW
// STATUS answers on a node that is not in a Primary component (where
// every query of data fails with 1047) and does not wait for
// wsrep_sync_wait.
func galeraState(ctx context.Context, q Queryer) (local, cluster string, err error) {
	rows, err := q.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_status')")
	if err != nil {
		return "", "", fmt.Errorf("galera state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return "", "", fmt.Errorf("galera state: %w", err)
		}
		switch strings.ToLower(name) {
		case "wsrep_local_state_comment":
			local = value
		case "wsrep_cluster_status":
			cluster = value
		}
	}
	if err := rows.Err(); err != nil {
		return "", "", fmt.Errorf("galera state: %w", err)
	}
	return local, cluster, nil
}

// checkGaleraReady returns an ErrNodeNotReady error unless the node is
// Synced in a Primary component.
func checkGaleraReady(ctx context.Context, q Queryer) error {
	local, cluster, err := galeraState(ctx, q)
	if err != nil {
		return err
	}
	if local != "Synced" || cluster != "Primary" {
		return fmt.Errorf("%w: state %q, cluster %q (want Synced in a Primary component)", ErrNodeNotReady, local, cluster)
	}
	return nil
}
