package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeFirstSession runs the README's first session against `oactl
// dev`: its login curl, as written (the shell expands $RANDOM), logs in a
// named user, and support's search for that name finds her session.
func TestReadmeFirstSession(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	start := strings.Index(readme, "## A first session")
	if start < 0 {
		t.Fatal("README has no first session")
	}
	section := readme[start:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	// The login: a curl to login_by_weixin, continued over lines.
	joined := strings.ReplaceAll(section, "\\\n", " ")
	var login string
	for _, line := range strings.Split(joined, "\n") {
		if strings.Contains(line, "curl") && strings.Contains(line, "login_by_weixin") {
			login = strings.TrimSpace(line)
		}
	}
	if login == "" {
		t.Fatalf("no login curl in the first session:\n%s", section)
	}
	name := regexp.MustCompile(`"nickName":"([^"]+)"`).FindStringSubmatch(login)
	if name == nil {
		t.Fatalf("the login curl sends no userInfo.nickName: %s", login)
	}
	if !strings.Contains(section, "sessions") || !strings.Contains(section, strings.Fields(name[1])[0]) {
		t.Errorf("the first session does not show finding %q in the sessions inspector", name[1])
	}

	e := startDev(t)
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(login, "localhost:8080", strings.TrimPrefix(e.serve, "http://")))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"errno":0`) || !strings.Contains(string(out), name[1]) {
		t.Fatalf("the README's login: %v\n%s", err, out)
	}
	// The inspector's filter is the search of `sessions list`.
	word := strings.Fields(name[1])[0]
	code, listed, errb := runBin(t, t.TempDir(), nil, "sessions", "list", "--json", "--search", word, "--db", "sqlite:"+e.dbPath)
	if code != 0 || !strings.Contains(listed, `"nickname":"`+name[1]+`"`) {
		t.Fatalf("searching %q: exit %d\n%s\n%s", word, code, listed, errb)
	}
}
