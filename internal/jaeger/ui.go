package jaeger

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

// ui is gradebook's minimal trace view: index.html, which Jaeger's query extension serves for
// every path that is not its API's or under /static/, and the script and style sheet it loads
// from static/. The script reads Jaeger's own query API only.
//
//go:embed ui/index.html ui/static
var ui embed.FS

// WriteUI writes the trace view's files into dir (index.html and static/), replacing what an
// earlier run left there, for Config's assetsPath. A Jaeger built from the Go module has no UI of
// its own: without these files it serves a placeholder page.
func WriteUI(dir string) error {
	root, err := fs.Sub(ui, "ui")
	if err != nil {
		return err
	}
	return fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
