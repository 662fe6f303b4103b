package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// RequestInfo travels with a request in its context. The outermost
// middleware makes it with NewRequestInfo, which computes the client
// address once for everyone after it (rate limit, login, access log);
// handlers fill in what the access log and metrics, which run outside
// them, report.
type RequestInfo struct {
	Client  netip.Addr // ClientAddr of the request; the zero Addr when the peer is unparsable
	Errno   int
	HasBody bool // an envelope was written
	UserID  int64
	// ClientGone: the client hung up before its answer (WriteError saw
	// the request's context canceled), so none was written.
	ClientGone bool

	hasClient bool // Client was computed (the zero Addr is a valid answer)
	// auth is what RequireToken found; carried here rather than in a
	// context of its own, which would cost every authenticated request a
	// second copy of the *http.Request, and inline, which costs one
	// allocation fewer.
	auth    authed
	hasAuth bool
}

type requestInfoKey struct{}

// NewRequestInfo returns the RequestInfo of a request that has just
// arrived, with its client address computed.
func NewRequestInfo(r *http.Request, trusted []netip.Prefix) *RequestInfo {
	return &RequestInfo{Client: ClientAddr(r, trusted), hasClient: true}
}

// WithRequestInfo attaches ri to ctx; WriteEnvelope records the errno in
// it and RequireToken the user.
func WithRequestInfo(ctx context.Context, ri *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFrom returns the RequestInfo of ctx, or nil.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return ri
}

// ClientOf is the client address of r: the one NewRequestInfo computed,
// or, for a request that came without one (a handler under test), the
// ClientAddr computed now.
func ClientOf(r *http.Request, trusted []netip.Prefix) netip.Addr {
	if ri := RequestInfoFrom(r.Context()); ri != nil && ri.hasClient {
		return ri.Client
	}
	return ClientAddr(r, trusted)
}

// ClientAddr is the address a request comes from: the TCP peer, unless the
// peer is a trusted proxy; then the rightmost X-Forwarded-For address that
// is not a trusted proxy (the leftmost ones are whatever the client wrote).
// Entries may carry a port, as some gateways write them
// ("203.0.113.7:5000", "[2001:db8::1]:443"). An unparsable peer gives the
// zero Addr. Handlers read it with ClientOf.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := PeerAddr(r)
	if !peer.IsValid() || !IsTrusted(peer, trusted) {
		return peer
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		parts := strings.Split(values[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, ok := ParseForwardedAddr(parts[j])
			if !ok {
				// A hop we cannot read ends the chain we can trust.
				return peer
			}
			if !IsTrusted(a, trusted) {
				return a
			}
			peer = a
		}
	}
	return peer
}

// ParseForwardedAddr reads one X-Forwarded-For entry: an address, an
// address with a port (IPv6 bracketed), or a bracketed IPv6 address, with
// surrounding spaces. The answer has no zone and IPv4-mapped IPv6
// addresses are unmapped, so that one client has one form.
func ParseForwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		var ap netip.AddrPort
		if ap, err = netip.ParseAddrPort(s); err == nil {
			a = ap.Addr()
		} else if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			if a, err = netip.ParseAddr(s[1 : len(s)-1]); err == nil && !a.Is6() {
				err = errors.New("brackets around an IPv4 address")
			}
		}
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// PeerAddr is the TCP peer of r.
func PeerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// IsTrusted reports whether a is inside one of the prefixes.
func IsTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
