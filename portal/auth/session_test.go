package auth

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210")
)

func mustSealer(t testing.TB, key []byte) *Sealer {
	t.Helper()
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := mustSealer(t, key1)
	sess := NewSession("frizzle", now, time.Hour)
	v, err := k.Seal(sess)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(v, "frizzle") {
		t.Errorf("cookie %q shows the user's name: it must be encrypted", v)
	}
	got, err := k.Open(v, now.Add(59*time.Minute))
	if err != nil || got != sess {
		t.Fatalf("Open = %+v, %v; want %+v", got, err, sess)
	}
	// Another instance with the same key file opens it too.
	if got, err := mustSealer(t, append(key1, '\n')).Open(v, now); err != nil || got.User != "frizzle" {
		t.Errorf("another sealer over the same key: %+v, %v", got, err)
	}
	if v2, _ := k.Seal(sess); v2 == v {
		t.Error("two seals of one session are equal: the nonce is not fresh")
	}
}

// TestOpenRefuses: every cookie an attacker could bring opens as "not signed in".
func TestOpenRefuses(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := mustSealer(t, key1)
	good, _ := k.Seal(NewSession("frizzle", now, time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 1
	foreign, _ := mustSealer(t, key2).Seal(NewSession("frizzle", now, time.Hour))
	noUser, _ := k.Seal(Session{ID: "x", IssuedAt: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	for _, c := range []struct {
		name, value string
		at          time.Time
		want        error
	}{
		{"tampered", base64.RawURLEncoding.EncodeToString(flipped), now, ErrForgedCookie},
		{"truncated", good[:len(good)-4], now, ErrForgedCookie},
		{"sealed with another key", foreign, now, ErrForgedCookie},
		{"expired", good, now.Add(time.Hour), ErrExpiredCookie},
		{"empty", "", now, ErrMalformedCookie},
		{"not base64", "!!!", now, ErrMalformedCookie},
		{"plain JSON", base64.RawURLEncoding.EncodeToString([]byte(`{"id":"x","u":"admin","exp":99999999999}`)), now, ErrForgedCookie},
		{"huge", strings.Repeat("A", 5000), now, ErrMalformedCookie},
		{"no user", noUser, now, ErrMalformedCookie},
	} {
		if s, err := k.Open(c.value, c.at); err != c.want {
			t.Errorf("%s: Open = %+v, %v; want %v", c.name, s, err, c.want)
		}
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "session.key")
	if err := NewKeyFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if _, err := LoadKeyFile(path); err != nil {
		t.Errorf("LoadKeyFile of a new key: %v", err)
	}
	if err := NewKeyFile(path); err == nil {
		t.Error("NewKeyFile overwrote an existing key")
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("  too short  \n"), 0o600)
	if _, err := LoadKeyFile(short); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("a short key: %v, want an error asking for at least 32 bytes", err)
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing key file loaded")
	}
}

// FuzzOpenSession: no cookie value panics Open, and none opens but one this key sealed (each
// fuzzing process seals its own, so what opens is checked by its content).
func FuzzOpenSession(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	k := mustSealer(f, key1)
	good, _ := k.Seal(NewSession("frizzle", now, time.Hour))
	f.Add(good)
	f.Add("")
	f.Add(good[:30])
	f.Add(strings.Repeat("A", 80))
	f.Fuzz(func(t *testing.T, value string) {
		s, err := k.Open(value, now)
		if err == nil && (s.User != "frizzle" || s.IssuedAt != now.Unix() || s.Expires != now.Add(time.Hour).Unix()) {
			t.Fatalf("Open(%q) = %+v: a value never sealed opened", value, s)
		}
	})
}

func TestRevocations(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r := NewRevocations()
	a, b := NewSession("a", now, time.Minute), NewSession("b", now, time.Hour)
	r.Revoke(a, now)
	r.Revoke(b, now)
	if !r.Revoked(a) || !r.Revoked(b) || r.Revoked(NewSession("a", now, time.Minute)) {
		t.Fatal("revoked the wrong sessions")
	}
	// Once a session has expired it no longer needs remembering.
	r.Revoke(NewSession("c", now, time.Hour), now.Add(2*time.Minute))
	if r.Revoked(a) || !r.Revoked(b) || r.Len() != 2 {
		t.Errorf("after a's expiry: a %v, b %v, %d remembered; want a forgotten, b kept, 2", r.Revoked(a), r.Revoked(b), r.Len())
	}
}

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewFailureLimiter(3, time.Minute)
	for i := range 3 {
		if wait := l.Blocked("k", now); wait != 0 {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("k", now.Add(time.Duration(i)*time.Second))
	}
	if wait := l.Blocked("k", now.Add(10*time.Second)); wait != 50*time.Second {
		t.Errorf("after 3 failures: wait %v, want 50s (the rest of the window)", wait)
	}
	if l.Blocked("other", now) != 0 {
		t.Error("another key is blocked")
	}
	if l.Blocked("k", now.Add(time.Minute)) != 0 {
		t.Error("still blocked after the window")
	}
	l.Fail("k", now)
	l.Reset("k")
	if l.Blocked("k", now) != 0 {
		t.Error("blocked after Reset")
	}
}
