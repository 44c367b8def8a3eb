// Package golden compares what a test printed with a committed file under
// testdata/, and rewrites the file when the test runs with -update, as
// flux's manifestgen tests do. Only tests import it.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/util/diff"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// Assert compares got with testdata/name, or first rewrites the file with
// -update.
func Assert(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run the test with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended):\n%s", path, diff.Diff(string(want), string(got)))
	}
}
