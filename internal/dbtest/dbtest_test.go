package dbtest

import (
	"database/sql"
	"testing"
)

func TestNewDatabaseIsEmptyAndUTF8MB4(t *testing.T) {
	dsn := MySQL(t)
	db, err := sql.Open("mysql", DriverDSN(t, dsn, true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cs string
	if err := db.QueryRow("SELECT @@character_set_database").Scan(&cs); err != nil {
		t.Fatal(err)
	}
	if cs != "utf8mb4" {
		t.Fatalf("character_set_database = %q, want utf8mb4", cs)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("new database has %d tables", n)
	}
}
