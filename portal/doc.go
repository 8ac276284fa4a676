// Package portal is the teacher portal: the web pages a teacher uses to browse students and
// record grades, the /status page, and the /api/v1 gateway, all served over the grading service
// found through the registry (one sd Instancer, a circuit breaker per instance, round robin, and
// retries only where a repeat is safe). It holds no grades of its own and must never retry a
// write that could be applied twice, nor load anything from the internet.
package portal
