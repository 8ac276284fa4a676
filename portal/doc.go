// Package portal is the teacher portal: the web pages a teacher uses to browse students, record,
// correct and remove grades (with their history) and export the class as CSV, the /status page,
// and the /api/v1 gateway (with its OpenAPI document), all served over the grading service
// found through the registry (one sd Instancer, a circuit breaker per instance, round robin, and
// retries only where a repeat is safe). With -users, every page needs a teacher's session and
// /api/v1 a session or the bearer token (signin.go); without, it serves anyone and says so on
// every page. It holds no grades of its own and must never retry a write that could be applied
// twice, nor load anything from the internet.
package portal
