package api_test

import (
	"strings"
	"testing"

	"github.com/oactl/oactl/internal/auth/authtest"
	"github.com/oactl/oactl/internal/keyseal"
)

// TestNoSecretsInAnswersOrLogs runs logins, failures included, and checks
// that no session_key, app secret, token (outside the login answer that
// hands it out) or login code appears in any answer or log line.
func TestNoSecretsInAnswersOrLogs(t *testing.T) {
	e := newHEnv(t)
	sealer, err := keyseal.New("keyseal-secret-xyz-of-32-bytes-or-more")
	if err != nil {
		t.Fatal(err)
	}
	e.Service.Sealer = sealer
	e.WeChat.Errs = map[string]error{
		"CODEREFUSED": authtest.APIError(40163, "code been used"),
		"CODE123":     authtest.ErrTransport, // its text holds secret= and js_code=
	}
	var answers []string
	codes := []string{"CODEOK.1", "CODEOK.2", "CODEREFUSED", "CODE123"}
	var tokens []string
	for _, c := range codes {
		a := e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"`+c+`"}`))
		if a.Errno == 0 {
			tok := e.loginToken(t, c+"x")
			tokens = append(tokens, tok)
			answers = append(answers, e.do(t, "GET", "/wx/auth/info", tok, nil).Body)
			continue
		}
		answers = append(answers, a.Body)
	}
	e.Store.Fail = authtest.ErrTransport
	answers = append(answers, e.do(t, "POST", "/wx/auth/login_by_weixin", "", []byte(`{"code":"CODEDB"}`)).Body)
	answers = append(answers, e.do(t, "GET", "/wx/auth/info", tokens[0], nil).Body)

	forbidden := []string{"key-CODEOK", "TOPSECRET", "keyseal-secret-xyz-of-32-bytes-or-more", "CODE123", "CODEOK", "CODEREFUSED", "CODEDB"}
	forbidden = append(forbidden, tokens...)
	logs := e.log.String()
	if logs == "" {
		t.Fatal("no log output captured: the test would prove nothing")
	}
	for _, s := range forbidden {
		for _, a := range answers {
			if strings.Contains(a, s) {
				t.Errorf("answer holds %q: %s", s, a)
			}
		}
		if strings.Contains(logs, s) {
			t.Errorf("log holds %q:\n%s", s, logs)
		}
	}
	for _, ss := range e.Store.Sessions() {
		if strings.Contains(ss.SessionKey, "key-") {
			t.Errorf("session key stored unsealed: %s", ss.SessionKey)
		}
	}
}
