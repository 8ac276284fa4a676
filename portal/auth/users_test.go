package auth

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Hashes made once: bcrypt at its least cost keeps the tests quick.
func bcryptOf(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func argon2idOf(password string) string {
	salt := []byte("saltsaltsaltsalt")
	key := argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestParseUsers(t *testing.T) {
	alice, bob := bcryptOf(t, "alice-pw"), argon2idOf("bob-pw")
	file := "# teachers\n\nalice:" + alice + "\n  bob:" + bob + "  \r\n"
	u, err := ParseUsers(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Names(); len(got) != 2 || got[0] != "alice" || got[1] != "bob" {
		t.Errorf("Names() = %q", got)
	}
	for _, c := range []struct {
		name, password string
		want           bool
	}{
		{"alice", "alice-pw", true},
		{"bob", "bob-pw", true},
		{"alice", "bob-pw", false},
		{"bob", "alice-pw", false},
		{"alice", "", false},
		{"carol", "alice-pw", false}, // an unknown user, even with someone's password
		{"", "", false},
	} {
		if got := u.Check(c.name, c.password); got != c.want {
			t.Errorf("Check(%q, %q) = %v, want %v", c.name, c.password, got, c.want)
		}
	}
}

// TestParseUsersRefuses: each malformed file is refused with the line at fault named.
func TestParseUsersRefuses(t *testing.T) {
	alice := bcryptOf(t, "pw")
	for _, c := range []struct{ name, file, want string }{
		{"no colon", "# x\nalice " + alice, "line 2: want name:hash"},
		{"empty name", ":" + alice, "line 1: user name is empty"},
		{"space in name", "al ice:" + alice, "line 1: user name"},
		{"control in name", "al\x01ice:" + alice, "line 1: user name"},
		{"long name", strings.Repeat("a", 65) + ":" + alice, "line 1: user name is 65 bytes"},
		{"duplicate", "alice:" + alice + "\n\nalice:" + alice, `line 3: user "alice" is listed twice`},
		{"no hash", "alice:", "line 1: user \"alice\": no hash"},
		{"plain text password", "alice:secret", "unknown hash format"},
		{"md5 crypt", "alice:$1$abc$def", "unknown hash format"},
		{"sha512 crypt", "alice:$6$abc$def", "unknown hash format"},
		{"truncated bcrypt", "alice:" + alice[:20], "malformed bcrypt hash"},
		{"argon2i", "alice:$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "unknown hash format"},
		{"argon2id without params", "alice:$argon2id$v=19$$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "malformed argon2id parameter"},
		{"argon2id huge memory", "alice:$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "argon2id memory"},
		{"argon2id old version", "alice:$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", "only v=19"},
		{"argon2id bad salt", "alice:$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5aw", "argon2id salt"},
		{"no users", "# nobody yet\n\n", "no users"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseUsers(strings.NewReader(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseUsers = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestCheckUnknownUserChecksAHash: a wrong name is checked against a real hash, as a wrong
// password is, so that how long a sign-in takes does not say which names exist.
func TestCheckUnknownUserChecksAHash(t *testing.T) {
	calls := map[string]int{}
	u := &Users{hashes: map[string]hash{"alice": countingHash{"alice", calls}}, names: []string{"alice"}}
	u.dummy = countingHash{"dummy", calls}
	u.Check("alice", "x")
	u.Check("mallory", "x")
	if calls["alice"] != 1 || calls["dummy"] != 1 {
		t.Errorf("hashes checked: %v; want alice's once for alice, the dummy once for mallory", calls)
	}
	// The dummy is a real user's hash, so it costs what theirs does; it never lets anyone in.
	real, err := ParseUsers(strings.NewReader("alice:" + bcryptOf(t, "pw")))
	if err != nil {
		t.Fatal(err)
	}
	if real.dummy == nil || real.Check("mallory", "pw") {
		t.Error("an unknown user signed in with the dummy's password")
	}
}

type countingHash struct {
	name  string
	calls map[string]int
}

func (h countingHash) matches([]byte) bool { h.calls[h.name]++; return true }

func TestHashPassword(t *testing.T) {
	h, err := HashPassword([]byte("pw\n"))
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("pw")) != nil {
		t.Error("the hash does not match the password without its line ending")
	}
	if _, err := HashPassword([]byte("\r\n")); err != ErrEmptyPassword {
		t.Errorf("empty password: %v, want ErrEmptyPassword", err)
	}
	if _, err := HashPassword([]byte(strings.Repeat("x", 73))); err == nil {
		t.Error("a 73-byte password was hashed, though bcrypt would ignore its end")
	}
}

// FuzzParseUsers: no users file panics the parser, and whatever it accepts names users that are
// valid and unique, each line once.
func FuzzParseUsers(f *testing.F) {
	f.Add("alice:$2a$04$abcdefghijklmnopqrstuuCbCJ5X6t7ZrG6k8v0mUJQmSvDJHjEvK\n")
	f.Add("# c\n\nbob:" + argon2idOf("pw") + "\n")
	f.Add("x:$argon2id$v=19$m=1,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("a:b:c\n:\n\x00:\xff")
	f.Fuzz(func(t *testing.T, file string) {
		u, err := ParseUsers(strings.NewReader(file))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range u.Names() {
			if CheckName(n) != nil || seen[n] {
				t.Fatalf("accepted name %q (seen before: %v)", n, seen[n])
			}
			seen[n] = true
		}
	})
}
