package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr is the address a request comes from: the TCP peer, unless the
// peer is a trusted proxy; then the rightmost X-Forwarded-For address that
// is not a trusted proxy (the leftmost ones are whatever the client wrote).
// An unparsable peer gives the zero Addr.
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
