package registry

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gradebook/gradebook/pkg/text"
)

// Limits on what a registration may carry. The meta limits are Consul's own (64 pairs, keys of
// at most 128 bytes matching [a-zA-Z0-9_-]+ and not starting with "consul-", values of at most
// 512 bytes), so a registration the hub accepts is one a Consul agent accepts too. The others
// are the hub's: Consul bounds neither IDs, names nor tags, but the hub keeps every registration
// in memory, saves it to disk and shows it on its page, so none may be unbounded.
const (
	// MaxIDLen bounds a service ID, a check ID and a service name, in bytes.
	MaxIDLen = 256
	// MaxTags bounds how many tags a service may have, and MaxTagLen each one's bytes.
	MaxTags   = 64
	MaxTagLen = 256
	// MaxMetaPairs, MaxMetaKeyLen and MaxMetaValueLen are Consul's limits on Meta.
	MaxMetaPairs    = 64
	MaxMetaKeyLen   = 128
	MaxMetaValueLen = 512
	// metaReservedPrefix starts the meta keys Consul keeps for itself.
	metaReservedPrefix = "consul-"
)

// identifierProblem says what makes s unfit as a service ID, a check ID or a service name, each
// of which appears as one segment of a route's path ("/v1/agent/service/deregister/{id}",
// "/v1/health/service/{name}"), or "" when nothing does. Such a value must be reachable through
// those routes, or it could be registered but never read or removed: so no "/", and neither "."
// nor "..", which no client can send as a path segment unchanged. Control characters and invalid
// UTF-8 have no place in a name shown on a page and written to logs.
func identifierProblem(s string) string {
	switch {
	case s == "." || s == "..":
		return fmt.Sprintf("must not be %q", s)
	case len(s) > MaxIDLen:
		return fmt.Sprintf("must be at most %d bytes, not %d", MaxIDLen, len(s))
	case strings.Contains(s, "/"):
		return "must not contain '/'"
	}
	return text.Problem(s)
}

// validIdentifier adds a problem for field to fe when s is not a valid identifier.
func validIdentifier(fe map[string]string, field, s string) {
	if p := identifierProblem(s); p != "" {
		fe[field] = p
	}
}

// validTags adds the problems of a service's tags to fe, under "Tags" or "Tags[i]".
func validTags(fe map[string]string, tags []string) {
	if len(tags) > MaxTags {
		fe["Tags"] = fmt.Sprintf("must be at most %d tags, not %d", MaxTags, len(tags))
		return
	}
	for i, tag := range tags {
		field := fmt.Sprintf("Tags[%d]", i)
		switch {
		case len(tag) > MaxTagLen:
			fe[field] = fmt.Sprintf("must be at most %d bytes, not %d", MaxTagLen, len(tag))
		default:
			if p := text.Problem(tag); p != "" {
				fe[field] = p
			}
		}
	}
}

// validMeta adds the problems of a service's Meta to fe, under "Meta" or "Meta.<key>", by
// Consul's rules (see MaxMetaPairs).
func validMeta(fe map[string]string, meta map[string]string) {
	if len(meta) > MaxMetaPairs {
		fe["Meta"] = fmt.Sprintf("must have at most %d pairs, not %d", MaxMetaPairs, len(meta))
		return
	}
	for k, v := range meta {
		field := "Meta." + k
		if !utf8.ValidString(k) || len(k) > MaxMetaKeyLen {
			// The key itself cannot name the field: it is too long or not text.
			field = "Meta"
		}
		switch {
		case k == "":
			fe[field] = "keys must not be empty"
		case len(k) > MaxMetaKeyLen:
			fe[field] = fmt.Sprintf("keys must be at most %d bytes, not %d", MaxMetaKeyLen, len(k))
		case !metaKeyChars(k):
			fe[field] = "key must hold only letters a-z and A-Z, digits, '_' and '-'"
		case strings.HasPrefix(k, metaReservedPrefix):
			fe[field] = fmt.Sprintf("keys starting with %q are reserved", metaReservedPrefix)
		case len(v) > MaxMetaValueLen:
			fe[field] = fmt.Sprintf("must be at most %d bytes, not %d", MaxMetaValueLen, len(v))
		default:
			if p := text.Problem(v); p != "" {
				fe[field] = p
			}
		}
	}
}

// metaKeyChars is Consul's rule for meta keys: ^[a-zA-Z0-9_-]+$.
func metaKeyChars(k string) bool {
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
