// Package httpx holds the HTTP conventions every gradebook service follows: JSON bodies and
// JSON errors, the 1 MiB body limit, request IDs, panic recovery, bearer-token checks, the
// single table that maps error kinds to status codes, and the guards against browsers on other
// sites: writes must be declared JSON, cross-origin writes are refused, and a host allow-list
// answers DNS rebinding. It must never know about any one service.
package httpx
