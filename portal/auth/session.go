package auth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// MinKeyFileLen is the least number of bytes a session key file must hold (after trimming
// surrounding white space): 32, the size of the hex text NewKeyFile writes halved.
const MinKeyFileLen = 32

// maxCookieLen bounds what Open reads: an honest cookie is about 150 bytes.
const maxCookieLen = 1024

// Session is who a sealed cookie says is signed in, and for how long.
type Session struct {
	// ID names this one sign-in, so that signing out can end it alone.
	ID string `json:"id"`
	// User is the teacher's name, as in the users file.
	User string `json:"u"`
	// IssuedAt and Expires are in Unix seconds.
	IssuedAt int64 `json:"iat"`
	Expires  int64 `json:"exp"`
}

// ExpiresAt is when s stops being valid.
func (s Session) ExpiresAt() time.Time { return time.Unix(s.Expires, 0) }

// Errors of Open. Each means "not signed in"; they differ for logs and tests.
var (
	ErrMalformedCookie = errors.New("session cookie is malformed")
	ErrForgedCookie    = errors.New("session cookie was not sealed with this key")
	ErrExpiredCookie   = errors.New("session has expired")
)

// Sealer seals sessions into cookie values and opens them again: AES-256-GCM, so a cookie can
// be neither read nor changed without the key. Every portal instance that shares the key file
// opens the others' cookies. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// LoadKeyFile reads a session key file and returns a Sealer over the key derived from it. The
// file holds at least MinKeyFileLen bytes of secret (NewKeyFile writes 64 hex digits).
func LoadKeyFile(path string) (*Sealer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("session key file: %w", err)
	}
	s, err := NewSealer(b)
	if err != nil {
		return nil, fmt.Errorf("session key file %s: %w", path, err)
	}
	return s, nil
}

// NewSealer returns a Sealer over a key derived from secret (HKDF-SHA256), which must hold at
// least MinKeyFileLen bytes once surrounding white space is trimmed.
func NewSealer(secret []byte) (*Sealer, error) {
	secret = bytes.TrimSpace(secret)
	if len(secret) < MinKeyFileLen {
		return nil, fmt.Errorf("holds %d bytes of key, want at least %d (make one with: openssl rand -hex 32)", len(secret), MinKeyFileLen)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "gradebook portal session cookie v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// NewKeyFile writes a fresh random key (64 hex digits) to path, readable by its owner only,
// making its folder if needed. It never overwrites an existing file.
func NewKeyFile(path string) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("session key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("session key file: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(b[:]) + "\n")
	return errors.Join(err, f.Close())
}

// NewSession starts a session for user at now, valid for ttl.
func NewSession(user string, now time.Time, ttl time.Duration) Session {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return Session{
		ID: hex.EncodeToString(id[:]), User: user,
		IssuedAt: now.Unix(), Expires: now.Add(ttl).Unix(),
	}
}

// Seal returns s as a cookie value: base64url(nonce ‖ AES-GCM(JSON of s)).
func (k *Sealer) Seal(s Session) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(k.aead.Seal(nonce, nonce, plain, nil)), nil
}

// Open returns the session sealed in value if this key sealed it and it has not expired at now.
func (k *Sealer) Open(value string, now time.Time) (Session, error) {
	if len(value) > maxCookieLen {
		return Session{}, ErrMalformedCookie
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return Session{}, ErrMalformedCookie
	}
	nonce, sealed := raw[:k.aead.NonceSize()], raw[k.aead.NonceSize():]
	plain, err := k.aead.Open(nil, nonce, sealed, nil)
	if err != nil {
		return Session{}, ErrForgedCookie
	}
	var s Session
	if err := json.Unmarshal(plain, &s); err != nil || s.ID == "" || s.User == "" {
		return Session{}, ErrMalformedCookie
	}
	if now.Unix() >= s.Expires {
		return Session{}, ErrExpiredCookie
	}
	return s, nil
}
