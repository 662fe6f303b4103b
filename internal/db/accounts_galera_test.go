package db_test

import (
	"fmt"
	"testing"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/dbtest"
)

// TestGaleraAccountsAcrossNodes: on a Galera cluster (scripts/test-galera)
// the session limit and the phone-number claim hold across nodes, where
// row locks do not reach: 20 concurrent logins of one user with a limit
// of 1 leave one session, ten binds of one number leave one owner. The
// conflicts come back from certification as 1213 and are retried.
func TestGaleraAccountsAcrossNodes(t *testing.T) {
	_, ds := galeraStores(t)
	for round := range 3 {
		t.Run(fmt.Sprint("session limit ", round), func(t *testing.T) { concurrentSessionLimit(t, ds) })
		t.Run(fmt.Sprint("phone ", round), func(t *testing.T) { concurrentPhone(t, ds) })
	}
}

// galeraStores makes a new database on the cluster, migrated through the
// first node, and returns its DSN and an open store on every node.
func galeraStores(t *testing.T) ([]string, []*db.DB) {
	t.Helper()
	nodes := dbtest.NewGaleraDatabase(t)
	ds := make([]*db.DB, len(nodes))
	for i, dsn := range nodes {
		if i == 0 {
			ds[i] = migrated(t, dsn, db.Options{})
		} else {
			ds[i] = dbtest.Open(t, dsn, db.Options{})
		}
	}
	return nodes, ds
}
