// Package idempotency holds the one convention every service follows for writes that may be
// repeated: the Idempotency-Key header (or field) that names a write, and its size limit. What a
// key protects, and how long it is kept, is each service's own business; this package keeps no
// keys and must never learn about a store.
package idempotency

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// Header names the HTTP header that makes a write safe to repeat.
const Header = "Idempotency-Key"

// MaxKeyLen bounds a key, in bytes, so that a client cannot make a service keep much per write.
const MaxKeyLen = 255

// Check reports what is wrong with key, or "" when it is acceptable. An empty key is acceptable:
// it means the write is not to be deduplicated.
func Check(key string) string {
	if len(key) > MaxKeyLen {
		return fmt.Sprintf("must be at most %d bytes", MaxKeyLen)
	}
	return ""
}

// NewKey returns a fresh random key.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
