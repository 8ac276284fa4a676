// Package httpserver is grading's HTTP+JSON API: the routes, and the go-kit transport that
// decodes requests into grading's endpoint requests and encodes responses and errors. It serves
// any grading.Endpoints: the local service's in grading/server, and the load-balanced ones in the
// portal's /api/v1 gateway, so that both answer exactly alike. It holds no client (see
// grading/gradingclient) and must never reach a store.
package httpserver
