// Package httpx holds the HTTP conventions every gradebook service follows: JSON bodies and
// JSON errors, the 1 MiB body limit, request IDs, panic recovery, bearer-token checks and the
// single table that maps error kinds to status codes. It must never know about any one service.
package httpx
