package api

import (
	"context"
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
// An unparsable peer gives the zero Addr. Handlers read it with ClientOf.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := PeerAddr(r)
	if !peer.IsValid() || !IsTrusted(peer, trusted) {
		return peer
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		parts := strings.Split(values[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// A hop we cannot read ends the chain we can trust.
				return peer
			}
			a = a.Unmap()
			if !IsTrusted(a, trusted) {
				return a
			}
			peer = a
		}
	}
	return peer
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
