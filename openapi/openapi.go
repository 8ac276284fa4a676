// Package openapi holds the OpenAPI 3.1 documents of grading's HTTP API and of the portal's
// /api/v1, embedded in the binaries that serve them (grading at /openapi.json, the portal at
// /api/v1/openapi.json). There is one document to edit, grading.json: the portal's gateway serves
// grading's own routes, so its document is grading's with what the portal adds (sign-in, the CSV
// export, its own errors), derived here. The API tests of both services validate every request
// and response they make against these documents, so a change to the API that the document does
// not follow fails them. This package knows no service and imports only the standard library.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

//go:embed grading.json
var gradingDoc []byte

// Grading is the OpenAPI document of grading's HTTP API.
func Grading() []byte { return append([]byte(nil), gradingDoc...) }

// Portal is the OpenAPI document of the portal's /api/v1: grading's, served under /api/v1, where
// every route takes the portal's bearer token or a teacher's session cookie (401 without one
// when sign-in is on), cross-origin writes are refused (403), an unreachable grading service is
// 503, and GET /students answers CSV to a client that asks for text/csv.
//
// It fails only if grading.json lost a part it builds on, which this package's tests check.
func Portal() (b []byte, err error) {
	defer func() {
		// A missing part shows as a failed type assertion below.
		if recover() != nil {
			b, err = nil, errors.New("openapi: grading.json lacks a part the portal's document builds on")
		}
	}()
	return portal()
}

type object = map[string]any

func portal() ([]byte, error) {
	var doc object
	if err := json.Unmarshal(gradingDoc, &doc); err != nil {
		return nil, fmt.Errorf("openapi: grading.json: %w", err)
	}
	info := doc["info"].(object)
	info["title"] = "gradebook portal API (/api/v1)"
	info["description"] = "The teacher portal's API gateway: grading's own API, answered as grading answers it, under /api/v1. " +
		"When the portal requires sign-in, every route but this document needs Authorization: Bearer <the portal's token> or a teacher's session cookie (401 otherwise); " +
		"grades entered, corrected or removed are recorded as by the signed-in teacher, or \"api\" for the token, whatever the body says. " +
		"Writes from other origins are refused (403). GET /students answers the class as CSV to Accept: text/csv."
	doc["servers"] = []any{object{"url": "/api/v1"}}
	components := doc["components"].(object)
	components["securitySchemes"] = object{
		"token":   object{"type": "http", "scheme": "bearer", "description": "The portal's -token"},
		"session": object{"type": "apiKey", "in": "cookie", "name": "gradebook_session", "description": "A teacher's session, from signing in on the portal's pages"},
	}
	doc["security"] = []any{object{"token": []any{}}, object{"session": []any{}}, object{}}
	responses := components["responses"].(object)
	responses["Unauthorized"] = object{"description": "Sign-in is required: send the bearer token or a session cookie", "content": jsonError()}
	paths := doc["paths"].(object)
	delete(paths, "/openapi.json")
	for _, item := range paths {
		for method, op := range item.(object) {
			op, ok := op.(object)
			if !ok || method == "parameters" {
				continue
			}
			rs := op["responses"].(object)
			rs["401"] = object{"$ref": "#/components/responses/Unauthorized"}
			rs["503"] = object{"$ref": "#/components/responses/Unavailable"}
			if method != "get" {
				rs["403"] = object{"$ref": "#/components/responses/Forbidden"}
			}
		}
	}
	list := paths["/students"].(object)["get"].(object)
	list["description"] = "JSON by default; the class as CSV (one row per student and grade, with each student's average; cells of text that a spreadsheet would run as a formula begin with ') when Accept names text/csv above application/json."
	list["parameters"] = []any{object{"name": "Accept", "in": "header", "required": false, "schema": object{"type": "string"}}}
	ok := list["responses"].(object)["200"].(object)
	ok["content"].(object)["text/csv"] = object{"schema": object{"type": "string"}}
	paths["/openapi.json"] = object{"get": object{
		"operationId": "openAPI",
		"summary":     "This document",
		"security":    []any{object{}},
		"responses": object{
			"200": object{"description": "The OpenAPI document", "content": object{"application/json": object{"schema": object{"type": "object"}}}},
			"421": object{"$ref": "#/components/responses/WrongHost"},
		},
	}}
	return marshalInOrder(doc)
}

// marshalInOrder writes doc's top-level fields in the order people read a document in (a map
// alone would put components first).
func marshalInOrder(doc object) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{")
	first := true
	write := func(key string) error {
		v, ok := doc[key]
		if !ok {
			return nil
		}
		delete(doc, key)
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		if !first {
			buf.WriteString(",")
		}
		first = false
		fmt.Fprintf(&buf, "\n  %q: %s", key, b)
		return nil
	}
	for _, key := range []string{"openapi", "info", "servers", "security", "paths", "components"} {
		if err := write(key); err != nil {
			return nil, err
		}
	}
	rest := make([]string, 0, len(doc))
	for key := range doc {
		rest = append(rest, key)
	}
	slices.Sort(rest)
	for _, key := range rest {
		if err := write(key); err != nil {
			return nil, err
		}
	}
	buf.WriteString("\n}\n")
	return buf.Bytes(), nil
}

func jsonError() object {
	return object{"application/json": object{"schema": object{"$ref": "#/components/schemas/Error"}}}
}

// Handler serves doc as JSON, to anyone: it holds nothing secret.
func Handler(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Length", strconv.Itoa(len(doc)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(doc)
		}
	})
}
