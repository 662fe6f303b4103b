package wechat

import "regexp"

// secretParams are the query parameters whose values never reach a log
// line or an error: net/http's errors quote the whole URL, and WeChat's
// URLs carry the app secret, the login code and access tokens. The match
// ignores case and ends at the next &, quote or white space.
var secretParams = regexp.MustCompile(`(?i)((?:secret|js_code|access_token|code|session_key)=)[^&\s"']*`)

// Redact hides the values of secret query parameters in a text meant for
// a log or an error message: the one redactor of every layer (the client's
// transport errors, the API's internal-error log lines, the server's
// readiness and panic logs).
func Redact(s string) string {
	return secretParams.ReplaceAllString(s, "${1}REDACTED")
}
