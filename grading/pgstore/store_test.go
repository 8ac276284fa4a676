package pgstore_test

import (
	"context"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pgstore"
	"github.com/gradebook/gradebook/grading/pgtest"
	"github.com/gradebook/gradebook/grading/storetest"
)

// open opens a handle on the database at url, or fails the test.
func open(t *testing.T, url string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pgstore.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// factory opens handles on one fresh database; any number may be open at once.
func factory(t *testing.T) storetest.Factory {
	url := pgtest.URL(t)
	return storetest.Factory{
		Open:     func(t *testing.T) grading.Store { return open(t, url) },
		IDPrefix: "pg-",
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, factory) }
