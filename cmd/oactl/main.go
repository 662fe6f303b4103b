// Command oactl is the toolkit for the backend of a WeChat mini-program's
// personal centre: the login server, an offline WeChat, schema tooling and a
// session inspector. See README.md.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], newStdio()))
}
