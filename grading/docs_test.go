package grading

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The rules this package follows are stated in its comments or in the repository's documents; a
// comment that sends the reader to a document the repository does not have states no rule.
func TestCommentsCiteOnlyDocumentsInTheRepository(t *testing.T) {
	cited := regexp.MustCompile(`[\w./-]+\.md\b`)
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files found: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range cited.FindAllString(string(src), -1) {
			// A document is cited from the repository's root (README.md, docs/BENCHMARKS.md).
			if _, err := os.Stat(filepath.Join("..", doc)); err != nil {
				t.Errorf("%s cites %s, which is not in the repository", f, doc)
			}
		}
	}
}
