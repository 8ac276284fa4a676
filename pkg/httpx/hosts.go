package httpx

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// HostAllowList is the set of names a server answers to, its defence against DNS rebinding: a
// page on a name an attacker controls, re-pointed at this server's address, reaches it as its
// own origin (so neither CORS nor cross-origin protection stops it), but every request it sends
// carries the attacker's name in Host. The list refuses those.
//
// It always allows what rebinding cannot produce: an IP address (the page's origin would then be
// that address itself), localhost and its subdomains (which browsers resolve to the loopback
// interface only), and a request without Host (which no browser sends), each with any port. Its
// entries add names:
//
//   - "name" allows the name with any port;
//   - "name:port" allows the name with that port only;
//   - ".example.org" allows example.org and every name under it;
//   - "*" allows every name, which turns the check off.
//
// Names are compared without case and without a trailing dot. The zero value allows only what is
// always allowed.
type HostAllowList struct {
	any       bool
	names     map[string]bool
	hostPorts map[string]bool
	suffixes  []string
}

// NewHostAllowList parses entries, ignoring empty ones, and says which entry is malformed, if one
// is.
func NewHostAllowList(entries ...string) (*HostAllowList, error) {
	l := &HostAllowList{names: map[string]bool{}, hostPorts: map[string]bool{}}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if err := l.add(e); err != nil {
			return nil, fmt.Errorf("allowed host %q: %w", e, err)
		}
	}
	return l, nil
}

// ParseHostList splits a comma-separated list of allowed hosts (a flag's value) and parses it.
func ParseHostList(list string) (*HostAllowList, error) {
	return NewHostAllowList(strings.Split(list, ",")...)
}

func (l *HostAllowList) add(e string) error {
	if e == "*" {
		l.any = true
		return nil
	}
	if strings.HasPrefix(e, ".") {
		name, ok := normalizeName(e[1:])
		if !ok {
			return fmt.Errorf("want .domain, with a valid domain after the dot")
		}
		l.suffixes = append(l.suffixes, name)
		return nil
	}
	host, port, hasPort := splitHost(e)
	if hasPort {
		p, ok := normalizePort(port)
		if !ok {
			return fmt.Errorf("the port %q is not a number from 1 to 65535", port)
		}
		port = p
	}
	if isAddr(host) {
		// Addresses are always allowed; an entry for one is accepted and changes nothing.
		return nil
	}
	name, ok := normalizeName(host)
	if !ok {
		return fmt.Errorf("want a host name, host:port, .domain or *")
	}
	if hasPort {
		l.hostPorts[net.JoinHostPort(name, port)] = true
	} else {
		l.names[name] = true
	}
	return nil
}

// Allows reports whether a request's Host (r.Host: a name or address, with or without a port)
// is one the list answers to.
func (l *HostAllowList) Allows(hostHeader string) bool {
	if hostHeader == "" || l.any {
		return true
	}
	host, port, hasPort := splitHost(hostHeader)
	if hasPort {
		p, ok := normalizePort(port)
		if !ok {
			return false
		}
		port = p
	}
	if isAddr(host) {
		return true
	}
	name, ok := normalizeName(host)
	if !ok {
		return false
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	if l.names[name] || (hasPort && l.hostPorts[net.JoinHostPort(name, port)]) {
		return true
	}
	for _, s := range l.suffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}

// Handler answers 421 Misdirected Request, with a JSON error naming the host, to a request whose
// Host the list does not allow, and passes every other request to next.
func (l *HostAllowList) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.Allows(r.Host) {
			Error(w, http.StatusMisdirectedRequest, fmt.Sprintf(
				"this server does not answer to the host name %q: reach it by one of its own names, or add this one to its -allowed-hosts", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// splitHost splits "host:port", "[v6]:port", "[v6]" and "host" into host and port, the host
// without brackets.
func splitHost(s string) (host, port string, hasPort bool) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p, true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return s[1 : len(s)-1], "", false
	}
	return s, "", false
}

// isAddr reports whether host is an IP address without a zone (a zone may hold any text).
func isAddr(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == ""
}

// normalizePort returns a port without leading zeros, and whether it is a number from 1 to 65535.
func normalizePort(port string) (string, bool) {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", false
	}
	return strconv.FormatUint(n, 10), true
}

// normalizeName lowercases a DNS name and drops one trailing dot, and reports whether what is
// left is made of labels of ASCII letters, digits, '-' and '_' (which some internal names use).
// Only ASCII is lowercased: Unicode case folding maps some other letters onto ASCII ones (the
// Kelvin sign onto k), which would let a name pass for another.
func normalizeName(s string) (string, bool) {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return "", false
	}
	start, upper := 0, false
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if n := i - start; n == 0 || n > 63 {
				return "", false
			}
			start = i + 1
			continue
		}
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z':
			upper = true
		case (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_':
			return "", false
		}
	}
	if !upper {
		return s, true // the usual case, without a copy
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b), true
}
