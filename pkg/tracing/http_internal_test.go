package tracing

import (
	"context"
	"net/http"
	"testing"
)

// carriesPropagation must see every header the propagator reads, or a caller's trace would be
// dropped without a word.
func TestCarriesPropagationKnowsThePropagatorsHeaders(t *testing.T) {
	tr, err := New(context.Background(), Config{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tr.Propagator().Fields() {
		h := http.Header{}
		h.Set(f, "x")
		if !carriesPropagation(h) {
			t.Errorf("a request with %s is not seen to carry propagation", f)
		}
	}
	if carriesPropagation(http.Header{"X-Request-Id": {"abc"}}) {
		t.Error("a request without propagation headers is seen to carry some")
	}
}
