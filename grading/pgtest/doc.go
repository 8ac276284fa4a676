// Package pgtest gives tests a PostgreSQL database of their own: URL creates a fresh, empty
// database on the server named by GRADEBOOK_TEST_POSTGRES and drops it when the test ends, Proxy
// stands between a store and that server so that a test can make the database unreachable and
// reachable again without touching a server others share, and StartServer runs a whole server of
// the test's own, which the test may stop and start for real. Only tests import it; it never
// touches a database or a server it did not create.
package pgtest
