package auth

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// MaxNameLen bounds a user's name in bytes.
const MaxNameLen = 64

// ErrEmptyPassword is what HashPassword answers for an empty password.
var ErrEmptyPassword = errors.New("the password is empty")

// Users are the teachers who may sign in, each with the hash of their password. The zero value
// has no users; a nil *Users means sign-in is not configured.
type Users struct {
	hashes map[string]hash
	names  []string // in file order
	// dummy is checked in place of an unknown user's hash, so that a wrong name costs as long
	// as a wrong password.
	dummy hash
}

// hash is one parsed password hash.
type hash interface {
	// matches reports whether password hashes to this hash, in time that does not depend on
	// where the two differ.
	matches(password []byte) bool
}

// LoadUsers reads the users file at path (see ParseUsers).
func LoadUsers(path string) (*Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	u, err := ParseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return u, nil
}

// ParseUsers reads a users file: one "name:hash" per line, where hash is a bcrypt hash
// ($2a$, $2b$ or $2y$) or an argon2id hash in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$key). Blank lines and lines starting with # are ignored.
// Names are unique, at most MaxNameLen bytes of printable UTF-8 without ':' or spaces. An error
// names the line at fault; a file with no users at all is an error too.
func ParseUsers(r io.Reader) (*Users, error) {
	u := &Users{hashes: map[string]hash{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, encoded, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: want name:hash, found no ':'", n)
		}
		if problem := checkName(name); problem != "" {
			return nil, fmt.Errorf("line %d: user name %s", n, problem)
		}
		if _, dup := u.hashes[name]; dup {
			return nil, fmt.Errorf("line %d: user %q is listed twice", n, name)
		}
		h, err := parseHash(encoded)
		if err != nil {
			return nil, fmt.Errorf("line %d: user %q: %w", n, name, err)
		}
		u.hashes[name] = h
		u.names = append(u.names, name)
		if u.dummy == nil {
			u.dummy = h
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(u.names) == 0 {
		return nil, errors.New("no users: add a line name:hash (make one with: gradebook user hash NAME)")
	}
	return u, nil
}

// checkName says what is wrong with a user's name, or "" when nothing is.
func checkName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > MaxNameLen:
		return fmt.Sprintf("is %d bytes long, more than %d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	}
	for _, c := range name {
		if unicode.IsSpace(c) || !unicode.IsPrint(c) {
			return fmt.Sprintf("%q holds a space or a control character", name)
		}
	}
	return ""
}

// CheckName reports what is wrong with name as a user's name, or nil.
func CheckName(name string) error {
	if problem := checkName(name); problem != "" {
		return errors.New("user name " + problem)
	}
	if strings.Contains(name, ":") {
		return fmt.Errorf("user name %q holds a ':'", name)
	}
	return nil
}

// Names lists the users in the order of the file.
func (u *Users) Names() []string { return append([]string(nil), u.names...) }

// Check reports whether password is name's password. It checks a hash whether or not name is a
// user, so that the time it takes does not tell which names exist.
func (u *Users) Check(name, password string) bool {
	h, known := u.hashes[name]
	if !known {
		h = u.dummy
	}
	if h == nil {
		return false
	}
	ok := h.matches([]byte(password))
	return ok && known
}

func parseHash(s string) (hash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return nil, fmt.Errorf("malformed bcrypt hash: %w", err)
		}
		return bcryptHash(s), nil
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case s == "":
		return nil, errors.New("no hash after ':'")
	default:
		return nil, errors.New("unknown hash format: want bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$); make one with: gradebook user hash NAME")
	}
}

type bcryptHash string

func (h bcryptHash) matches(password []byte) bool {
	return bcrypt.CompareHashAndPassword([]byte(h), password) == nil
}

type argon2idHash struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

// Bounds on argon2id parameters, so that a users file cannot make each sign-in take minutes or
// gigabytes.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 64
)

// parseArgon2id parses "$argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>", salt and key in
// unpadded standard base64, as the reference implementation writes them.
func parseArgon2id(s string) (hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, errors.New("malformed argon2id hash: want $argon2id$v=19$m=…,t=…,p=…$salt$key")
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("argon2id version %q: only v=19 is supported", parts[2])
	}
	var h argon2idHash
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || seen[k] {
			return nil, fmt.Errorf("malformed argon2id parameter %q", kv)
		}
		seen[k] = true
		switch k {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n > 255 {
				return nil, fmt.Errorf("argon2id parallelism %d: at most 255", n)
			}
			h.threads = uint8(n)
		default:
			return nil, fmt.Errorf("unknown argon2id parameter %q", k)
		}
	}
	switch {
	case h.memory == 0 || h.time == 0 || h.threads == 0:
		return nil, errors.New("argon2id hash needs m, t and p, each above 0")
	case h.memory > maxArgonMemory:
		return nil, fmt.Errorf("argon2id memory %d KiB: at most %d", h.memory, maxArgonMemory)
	case h.time > maxArgonTime:
		return nil, fmt.Errorf("argon2id time %d: at most %d", h.time, maxArgonTime)
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errors.New("argon2id salt: want at least 8 bytes in unpadded base64")
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return nil, errors.New("argon2id key: want 16 to 64 bytes in unpadded base64")
	}
	return h, nil
}

func (h argon2idHash) matches(password []byte) bool {
	got := argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// HashPassword hashes password with bcrypt at its default cost, as a users file line holds it.
// Passwords longer than 72 bytes are refused: bcrypt would ignore the rest.
func HashPassword(password []byte) (string, error) {
	password = bytes.TrimRight(password, "\r\n")
	if len(password) == 0 {
		return "", ErrEmptyPassword
	}
	h, err := bcrypt.GenerateFromPassword(password, bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
