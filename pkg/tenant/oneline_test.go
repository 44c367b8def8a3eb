package tenant

import (
	"strings"
	"testing"
)

// FuzzOneLine: OneLine, with its shortcut for text that is one line
// already, is always what joining the fields of the text gives.
func FuzzOneLine(f *testing.F) {
	for _, seed := range []string{
		"", " ", "Applied revision: main@sha1:abc", " leading", "trailing ", "two  spaces",
		"kustomize build failed:\n  accumulating resources", "tab\there", "cr\r\nlf", "\v\f",
		"no\u00a0break", "next\u0085line", "ümlaut ok", "ideographic\u3000space", "a b c",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := OneLine(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", s, got, want)
		}
	})
}
