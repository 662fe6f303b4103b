// Package wechat is the client for WeChat's mini-program server API
// (jscode2session, access tokens, phone numbers) and the open-data crypto
// (AES-128-CBC decryption, sha1 signature, watermark check). It has no
// HTTP server and no database.
package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds each call when Client.Timeout is zero: the
// mini-program gives up at 6 s, so the server must answer before that.
const DefaultTimeout = 4 * time.Second

// maxAnswer caps what is read from WeChat: its answers are a few hundred
// bytes, so anything larger is a broken or hostile upstream.
const maxAnswer = 64 << 10

// Client calls WeChat's server API (or mockwx). Zero Timeout means 4s.
// A Client caches its access token: use it through a pointer and do not
// copy it after first use.
type Client struct {
	BaseURL string // e.g. "https://api.weixin.qq.com" or mockwx's URL
	AppID   string
	Secret  string
	HTTP    *http.Client  // nil: a default client
	Timeout time.Duration // per call
	Now     func() time.Time
	// Observer, when set, is told of every call (for metrics).
	Observer Observer

	mu       sync.Mutex
	token    string
	tokenExp time.Time // when to stop using token (before WeChat's expiry)
}

// Observer is told of each call a Client makes to WeChat, answered or
// not, so that calls can be counted (phone-number calls cost money).
// It sees neither the request nor the answer: api is the call's name
// ("jscode2session", "stable_token", "getuserphonenumber"); errcode is
// WeChat's errcode as text ("0" for success, an absent errcode counts
// as 0) when it answered, else why it did not: "timeout", "canceled",
// "http_<status>", "unreachable" or "malformed". Several goroutines may
// call it at once.
type Observer interface {
	ObserveWeChatCall(api, errcode string, d time.Duration)
}

// SessionInfo is jscode2session's answer. SessionKey is a secret: never
// log or return it to a client.
type SessionInfo struct{ OpenID, SessionKey, UnionID string }

// PhoneInfo is getuserphonenumber's phone_info.
type PhoneInfo struct {
	PhoneNumber     string      `json:"phoneNumber"`
	PurePhoneNumber string      `json:"purePhoneNumber"`
	CountryCode     CountryCode `json:"countryCode"`
	Watermark       Watermark   `json:"watermark"`
}

// CountryCode is phone_info.countryCode: WeChat's documentation describes
// a string ("86") and shows a number (86) in its own example, so both are
// read, as the digits.
type CountryCode string

// UnmarshalJSON reads a JSON string or a non-negative integer.
func (c *CountryCode) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = CountryCode(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if _, err := n.Int64(); err != nil || strings.HasPrefix(string(n), "-") {
		return fmt.Errorf("wechat: countryCode %s is not a country calling code", n)
	}
	*c = CountryCode(n)
	return nil
}

// Watermark is the appid and time WeChat stamps on data it issues.
type Watermark struct {
	AppID     string `json:"appid"`
	Timestamp int64  `json:"timestamp"`
}

// APIError: WeChat answered with errcode != 0.
type APIError struct {
	Errcode int
	Errmsg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechat: errcode %d: %s", e.Errcode, e.Errmsg)
}

// ValidateBaseURL accepts an absolute http(s) URL without query or
// credentials; plain http only when the host is loopback, because the app
// secret travels in the query string.
func ValidateBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("wechat base URL: %w", err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("wechat base URL %q: want https://host[:port]", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("wechat base URL: no credentials, query or fragment allowed")
	}
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return fmt.Errorf("wechat base URL %q: https is required unless the host is loopback (the app secret travels in it)", raw)
	}
	return nil
}

// IsLoopbackHost reports whether host (without port) is localhost or a
// loopback address (127.0.0.0/8, ::1).
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// defaultHTTP is the HTTP client of every Client without its own: one
// connection pool for the process, keeping up to MaxIdlePerHost
// connections to WeChat open between calls. net/http's default keeps 2,
// so under 32 concurrent logins most calls dialled a new connection (and,
// against WeChat, made a new TLS handshake): 15% of serve's CPU in the
// login benchmark went to dialling and closing.
var defaultHTTP = &http.Client{Transport: newTransport()}

// MaxIdlePerHost is how many idle connections to one WeChat host the
// default client keeps.
const MaxIdlePerHost = 64

func newTransport() http.RoundTripper {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t := base.Clone()
	t.MaxIdleConnsPerHost = MaxIdlePerHost
	if t.MaxIdleConns < 2*MaxIdlePerHost {
		t.MaxIdleConns = 2 * MaxIdlePerHost
	}
	return t
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Code2Session exchanges a wx.login code for the user's openid,
// session_key and (when the app is bound to an open platform) unionid.
// Errors never contain the secret, the code or the session_key.
func (c *Client) Code2Session(ctx context.Context, code string) (SessionInfo, error) {
	q := url.Values{}
	q.Set("appid", c.AppID)
	q.Set("secret", c.Secret)
	q.Set("js_code", code)
	q.Set("grant_type", "authorization_code")
	var ans struct {
		apiStatus
		OpenID     string `json:"openid"`
		SessionKey string `json:"session_key"`
		UnionID    string `json:"unionid"`
	}
	if err := c.call(ctx, "jscode2session", http.MethodGet, "/sns/jscode2session", q, nil, &ans); err != nil {
		return SessionInfo{}, err
	}
	if err := ans.err(); err != nil {
		return SessionInfo{}, err
	}
	if ans.OpenID == "" || ans.SessionKey == "" {
		return SessionInfo{}, errors.New("wechat: jscode2session: answer without openid or session_key")
	}
	return SessionInfo{OpenID: ans.OpenID, SessionKey: ans.SessionKey, UnionID: ans.UnionID}, nil
}

// PhoneNumber exchanges a getuserphonenumber code; it gets and caches an access token from
// POST /cgi-bin/stable_token (force_refresh false), refreshing it before expires_in and once on errcode 40001/42001.
// openid, when not empty, is sent with the code, as WeChat documents, so that
// WeChat refuses a code that another user's mini-program obtained.
func (c *Client) PhoneNumber(ctx context.Context, code, openid string) (PhoneInfo, error) {
	req := map[string]string{"code": code}
	if openid != "" {
		req["openid"] = openid
	}
	body, err := json.Marshal(req)
	if err != nil {
		return PhoneInfo{}, fmt.Errorf("wechat: getuserphonenumber: %w", err)
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return PhoneInfo{}, err
		}
		q := url.Values{}
		q.Set("access_token", tok)
		var ans struct {
			apiStatus
			PhoneInfo *PhoneInfo `json:"phone_info"`
		}
		if err := c.call(ctx, "getuserphonenumber", http.MethodPost, "/wxa/business/getuserphonenumber", q, body, &ans); err != nil {
			return PhoneInfo{}, err
		}
		if ans.Errcode == 40001 || ans.Errcode == 42001 {
			c.dropToken(tok)
			if attempt == 0 {
				continue
			}
		}
		if err := ans.err(); err != nil {
			return PhoneInfo{}, err
		}
		if ans.PhoneInfo == nil || ans.PhoneInfo.PurePhoneNumber == "" && ans.PhoneInfo.PhoneNumber == "" {
			return PhoneInfo{}, errors.New("wechat: getuserphonenumber: answer without phone_info")
		}
		return *ans.PhoneInfo, nil
	}
}

// accessToken returns the cached stable access token or fetches one. The
// lock is held during the fetch on purpose: concurrent callers wait for
// one request instead of each asking WeChat.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.tokenExp) {
		return c.token, nil
	}
	body, err := json.Marshal(map[string]any{
		"grant_type":    "client_credential",
		"appid":         c.AppID,
		"secret":        c.Secret,
		"force_refresh": false,
	})
	if err != nil {
		return "", fmt.Errorf("wechat: stable_token: %w", err)
	}
	var ans struct {
		apiStatus
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := c.call(ctx, "stable_token", http.MethodPost, "/cgi-bin/stable_token", nil, body, &ans); err != nil {
		return "", err
	}
	if err := ans.err(); err != nil {
		return "", err
	}
	if ans.AccessToken == "" || ans.ExpiresIn <= 0 {
		return "", errors.New("wechat: stable_token: answer without access_token or expires_in")
	}
	// Refresh early (a tenth of the lifetime, at most 5 minutes) so a
	// token is never used in its last moments, when clocks disagree.
	life := time.Duration(ans.ExpiresIn) * time.Second
	c.token = ans.AccessToken
	c.tokenExp = c.now().Add(life - min(life/10, 5*time.Minute))
	return c.token, nil
}

func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

// apiStatus is the errcode/errmsg pair every WeChat answer may carry;
// an absent errcode means success.
type apiStatus struct {
	Errcode int    `json:"errcode"`
	Errmsg  string `json:"errmsg"`
}

// statusCarrier is every answer type: they all embed apiStatus.
type statusCarrier interface{ status() apiStatus }

func (s apiStatus) status() apiStatus { return s }

func (s apiStatus) err() error {
	if s.Errcode == 0 {
		return nil
	}
	return &APIError{Errcode: s.Errcode, Errmsg: s.Errmsg}
}

// call does one HTTP exchange and decodes the JSON answer into out,
// whatever the Content-Type (WeChat says text/plain), and tells the
// Observer how it went.
func (c *Client) call(ctx context.Context, op, method, path string, q url.Values, body []byte, out statusCarrier) error {
	if c.Observer == nil {
		return c.exchange(ctx, op, method, path, q, body, out)
	}
	start := time.Now()
	err := c.exchange(ctx, op, method, path, q, body, out)
	c.Observer.ObserveWeChatCall(op, callOutcome(err, out), time.Since(start))
	return err
}

// callOutcome is the errcode label of a call (see Observer).
func callOutcome(err error, out statusCarrier) string {
	var he *httpStatusError
	switch {
	case err == nil:
		return strconv.Itoa(out.status().Errcode)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &he):
		return "http_" + strconv.Itoa(he.status)
	case errors.Is(err, errMalformed):
		return "malformed"
	}
	return "unreachable"
}

// httpStatusError: WeChat answered with an HTTP status other than 200.
type httpStatusError struct {
	op     string
	status int
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("wechat: %s: HTTP status %d", e.op, e.status)
}

// errMalformed marks an answer that is too large or not the JSON expected.
var errMalformed = errors.New("malformed answer")

func (c *Client) exchange(ctx context.Context, op, method, path string, q url.Values, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		// The URL holds the secret: report the base URL problem only.
		return fmt.Errorf("wechat: %s: bad base URL", op)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return transportError(ctx, op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &httpStatusError{op: op, status: resp.StatusCode}
	}
	if len(data) > maxAnswer {
		return fmt.Errorf("wechat: %s: %w: larger than %d bytes", op, errMalformed, maxAnswer)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("wechat: %s: %w (%d bytes): %s", op, errMalformed, len(data), jsonErrorKind(err))
	}
	return nil
}

// transportError turns an HTTP client failure into an error that keeps
// errors.Is(err, context.DeadlineExceeded) but drops the URL, which
// carries secret= and js_code=.
func transportError(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("wechat: %s: %w", op, cerr)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("wechat: %s: %w", op, err)
	}
	return fmt.Errorf("wechat: %s: %w", op, redactErr{msg: Redact(err.Error()), err: err})
}

// redactErr keeps the chain of err (for errors.Is / As) but prints a
// message from which query values have been removed.
type redactErr struct {
	msg string
	err error
}

func (e redactErr) Error() string { return e.msg }
func (e redactErr) Unwrap() error { return e.err }

// jsonErrorKind names a decoding failure without quoting the input (a
// malformed answer could contain a session_key).
func jsonErrorKind(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	default:
		return "invalid JSON"
	}
}
