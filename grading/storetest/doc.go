// Package storetest is the conformance suite of grading.Store: the one set of cases that every
// store (grading/boltstore, grading/pgstore) must pass, run from each store's own tests with a
// Factory that says how to open it. A store's differences live in its Factory, never in weaker
// assertions. Only tests import it.
package storetest
