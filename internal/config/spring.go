package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// The Spring keys oactl reads: the seed's datasource.
const (
	springURLKey      = "spring.datasource.url"
	springUserKey     = "spring.datasource.username"
	springPasswordKey = "spring.datasource.password"
)

// DataSource is a database named by the seed's Spring layout, converted
// to oactl's terms.
type DataSource struct {
	// DSN is a mysql:// URL for --db. It carries the password.
	DSN string
	// TimeZone is the JDBC URL's serverTimezone as a zone name Go loads
	// ("" when the URL has none).
	TimeZone string
}

// SpringDataSource reads spring.datasource.url (jdbc:mysql:// or
// jdbc:mariadb://), username and password. ok is false when the file has
// no spring.datasource.url. JDBC-only parameters are dropped, except that
// serverTimezone becomes TimeZone and an SSL mode that requires TLS keeps
// requiring it. Errors name the key and never quote a password.
func (f *File) SpringDataSource() (ds DataSource, ok bool, err error) {
	raw, ok := f.Lookup(springURLKey)
	if !ok || raw == "" {
		return DataSource{}, false, nil
	}
	where := f.Path + ": " + springURLKey
	user, _ := f.Lookup(springUserKey)
	pass, _ := f.Lookup(springPasswordKey)
	for key, v := range map[string]string{springURLKey: raw, springUserKey: user, springPasswordKey: pass} {
		if strings.Contains(v, "${") {
			return DataSource{}, true, fmt.Errorf("%s: %s uses a ${...} placeholder, which oactl does not expand: set OA_DB (or oa.db) instead", f.Path, key)
		}
	}
	ds, err = convertJDBC(raw, user, pass)
	if err != nil {
		return DataSource{}, true, fmt.Errorf("%s: %w", where, err)
	}
	return ds, true, nil
}

// convertJDBC turns a MySQL or MariaDB JDBC URL and its credentials into
// a mysql:// DSN.
func convertJDBC(raw, user, pass string) (DataSource, error) {
	lower := strings.ToLower(raw)
	var rest string
	switch {
	case strings.HasPrefix(lower, "jdbc:mysql://"):
		rest = raw[len("jdbc:mysql://"):]
	case strings.HasPrefix(lower, "jdbc:mariadb://"):
		rest = raw[len("jdbc:mariadb://"):]
	case strings.HasPrefix(lower, "jdbc:"):
		sub, _, _ := strings.Cut(lower[len("jdbc:"):], ":")
		return DataSource{}, fmt.Errorf("unsupported database %q: oactl speaks MySQL and MariaDB (jdbc:mysql://, jdbc:mariadb://) and SQLite", sub)
	default:
		return DataSource{}, errors.New("want a JDBC URL such as jdbc:mysql://host:3306/db")
	}
	hostPart, pathPart, _ := strings.Cut(rest, "/")
	if strings.ContainsAny(hostPart, ",()") {
		return DataSource{}, errors.New("several hosts or an address=(...) list: oactl connects to one server; name it in OA_DB")
	}
	pathPart, query, _ := strings.Cut(pathPart, "?")
	if i := strings.LastIndex(hostPart, "@"); i >= 0 {
		// Connector/J also takes user:password@ before the host.
		cred := hostPart[:i]
		hostPart = hostPart[i+1:]
		u, p, _ := strings.Cut(cred, ":")
		if user == "" {
			user, _ = url.PathUnescape(u)
		}
		if pass == "" {
			pass, _ = url.PathUnescape(p)
		}
	}
	host, port := hostPart, "3306"
	if h, p, err := net.SplitHostPort(hostPart); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(hostPart, "[") && strings.HasSuffix(hostPart, "]") {
		host = hostPart[1 : len(hostPart)-1]
	}
	if host == "" {
		return DataSource{}, errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return DataSource{}, fmt.Errorf("port %q: want 1 to 65535", port)
	}
	dbName, err := url.PathUnescape(pathPart)
	if err != nil || dbName == "" {
		return DataSource{}, errors.New("no database name after the host (jdbc:mysql://host:3306/DB)")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return DataSource{}, errors.New("malformed parameters after '?'")
	}
	get := func(name string) string { // JDBC parameter names are case-insensitive
		for k, v := range params {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[len(v)-1]
			}
		}
		return ""
	}
	if user == "" {
		user = get("user")
	}
	if pass == "" {
		pass = get("password")
	}
	if user == "" {
		return DataSource{}, fmt.Errorf("no user name: set %s", springUserKey)
	}
	u := url.URL{Scheme: "mysql", User: url.User(user), Host: net.JoinHostPort(host, port), Path: "/" + dbName}
	if pass != "" {
		u.User = url.UserPassword(user, pass)
	}
	tls, err := jdbcTLS(get)
	if err != nil {
		return DataSource{}, err
	}
	if tls != "" {
		u.RawQuery = "tls=" + tls
	}
	zone := get("serverTimezone")
	if zone == "" {
		zone = get("connectionTimeZone") // Connector/J 8.0.23's new name
	}
	if zone != "" {
		if zone, err = JavaZone(zone); err != nil {
			return DataSource{}, fmt.Errorf("serverTimezone: %w", err)
		}
	}
	return DataSource{DSN: u.String(), TimeZone: zone}, nil
}

// jdbcTLS maps the SSL parameters of Connector/J and MariaDB Connector/J to
// go-sql-driver's tls parameter, so that a datasource that required TLS
// does not silently lose it: sslMode VERIFY_CA / VERIFY_IDENTITY /
// verify-ca / verify-full → "true" (verified), REQUIRED / trust →
// "skip-verify", PREFERRED → "preferred"; the older useSSL=true →
// "preferred", or "skip-verify" with requireSSL=true, or "true" with
// verifyServerCertificate=true as well.
func jdbcTLS(get func(string) string) (string, error) {
	if mode := strings.ToLower(get("sslMode")); mode != "" {
		switch strings.ReplaceAll(mode, "_", "-") {
		case "disabled", "disable":
			return "", nil
		case "preferred":
			return "preferred", nil
		case "required", "trust":
			return "skip-verify", nil
		case "verify-ca", "verify-identity", "verify-full":
			return "true", nil
		}
		return "", fmt.Errorf("sslMode %q: unknown", mode)
	}
	if !strings.EqualFold(get("useSSL"), "true") && !strings.EqualFold(get("useSsl"), "true") {
		return "", nil
	}
	switch {
	case strings.EqualFold(get("requireSSL"), "true") && strings.EqualFold(get("verifyServerCertificate"), "true"):
		return "true", nil
	case strings.EqualFold(get("requireSSL"), "true"):
		return "skip-verify", nil
	}
	return "preferred", nil
}

// javaShortIDs are java.time.ZoneId.SHORT_IDS: Connector/J's
// serverTimezone reads them (CTT, China's, is common in the seed's world).
var javaShortIDs = map[string]string{
	"ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires",
	"ART": "Africa/Cairo", "AST": "America/Anchorage", "BET": "America/Sao_Paulo", "BST": "Asia/Dhaka",
	"CAT": "Africa/Harare", "CNT": "America/St_Johns", "CST": "America/Chicago", "CTT": "Asia/Shanghai",
	"EAT": "Africa/Addis_Ababa", "ECT": "Europe/Paris", "IET": "America/Indiana/Indianapolis",
	"IST": "Asia/Kolkata", "JST": "Asia/Tokyo", "MIT": "Pacific/Apia", "NET": "Asia/Yerevan",
	"NST": "Pacific/Auckland", "PLT": "Asia/Karachi", "PNT": "America/Phoenix", "PRT": "America/Puerto_Rico",
	"PST": "America/Los_Angeles", "SST": "Pacific/Guadalcanal", "VST": "Asia/Ho_Chi_Minh",
	"EST": "Etc/GMT+5", "MST": "Etc/GMT+7", "HST": "Etc/GMT+10",
}

// JavaZone turns a Java time-zone ID into one Go's time.LoadLocation
// reads: IANA names pass through, Java's short IDs (CTT) become their IANA
// zone, and whole-hour offsets (GMT+8, UTC+08:00, GMT-5) become Etc/GMT∓N
// (whose sign is inverted, POSIX-style). Other offsets are refused.
func JavaZone(id string) (string, error) {
	if z, ok := javaShortIDs[strings.ToUpper(id)]; ok {
		return z, nil
	}
	upper := strings.ToUpper(id)
	for _, prefix := range []string{"GMT", "UTC", "UT"} {
		off, ok := strings.CutPrefix(upper, prefix)
		if !ok || off == "" || (off[0] != '+' && off[0] != '-') {
			continue
		}
		hours, minutes, _ := strings.Cut(off[1:], ":")
		h, err := strconv.Atoi(hours)
		if err != nil || h > 14 || (minutes != "" && minutes != "00") || len(hours) > 2 {
			return "", fmt.Errorf("%q: only whole-hour offsets such as GMT+8 are understood; use a zone name such as Asia/Shanghai", id)
		}
		if h == 0 {
			return "UTC", nil
		}
		// Etc/GMT-8 is eight hours ahead of UTC.
		if off[0] == '+' {
			return "Etc/GMT-" + strconv.Itoa(h), nil
		}
		return "Etc/GMT+" + strconv.Itoa(h), nil
	}
	return id, nil
}
