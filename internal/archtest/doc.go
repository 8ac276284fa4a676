// Package archtest tests the module's dependency rule: which packages may depend on which,
// directly or through others. The rule is one table in deps_test.go, checked against a single
// "go list -deps" of the module; change the table when the layout changes, not the packages to
// fit a stale table. It holds no code for other packages to import and never will.
package archtest
