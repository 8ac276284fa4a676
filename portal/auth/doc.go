// Package auth holds what the portal needs to know who a teacher is, with no HTTP in it: the
// users file (name:hash lines, bcrypt or argon2id), constant-time password checks, the sealed
// session cookie (AES-256-GCM under a key derived from a shared key file), the record of
// sessions ended before they expired, and the counter of failed sign-ins. It never stores or
// logs a password, and never tells an unknown user from a wrong password.
package auth
