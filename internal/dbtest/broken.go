package dbtest

import (
	"net"
	"net/url"
	"testing"
)

// Broken are DSNs that fail to open in the three ways a user meets most,
// made from a fresh database of the test server (see MySQL): a closed
// port, a wrong password, a database that does not exist.
type Broken struct {
	Refused, Denied, UnknownDB string
	Server                     string // host:port of the test server
	Closed                     string // host:port of Refused, where nothing listens
	DBName                     string // the missing database of UnknownDB
}

// BrokenDSNs returns Broken DSNs whose wrong password (in Denied and
// Refused) is password, so that a test can look for it in messages.
func BrokenDSNs(t testing.TB, password string) Broken {
	t.Helper()
	u, err := url.Parse(MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	b := Broken{Server: u.Host, Closed: closed, DBName: "oactl_no_such_database"}
	denied := *u
	denied.User = url.UserPassword(u.User.Username(), password)
	b.Denied = denied.String()
	unknown := *u
	unknown.Path = "/" + b.DBName
	b.UnknownDB = unknown.String()
	refused := denied
	refused.Host = closed
	b.Refused = refused.String()
	return b
}
