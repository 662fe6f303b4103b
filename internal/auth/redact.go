package auth

import "regexp"

// secretParams are query parameters whose values never reach a log line:
// errors from net/http carry the whole URL, and WeChat's URLs hold the app
// secret, the login code and access tokens.
var secretParams = regexp.MustCompile(`(?i)((?:secret|js_code|access_token|code|session_key)=)[^&\s"']*`)

// Redact removes secret query values from a text meant for a log.
func Redact(s string) string {
	return secretParams.ReplaceAllString(s, "${1}REDACTED")
}
