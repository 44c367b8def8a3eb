package tenant

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestDecodePageInAnyOrder: a page is read whether the server writes the
// continue token before the items (built-in lists) or after them (custom
// resources, whose keys are sorted), with items null or absent, and an
// item the page breaks off in is an error, not a short page.
func TestDecodePageInAnyOrder(t *testing.T) {
	type item struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	for _, c := range []struct {
		page, next string
		names      []string
		err        bool
	}{
		{page: `{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"c1"},"items":[{"metadata":{"name":"a","labels":{"x":"y"}}},{"metadata":{"name":"b"}}]}`, next: "c1", names: []string{"a", "b"}},
		{page: `{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","items":[{"metadata":{"name":"a"},"spec":{"suspend":true}}],"kind":"KustomizationList","metadata":{"continue":"c2"}}`, next: "c2", names: []string{"a"}},
		{page: ` { "items" : null , "metadata" : { } } `},
		{page: `{"kind":"List","metadata":{}}`},
		{page: `{"items":[{"metadata":{"name":"a"}},{"metadata":{"na`, names: []string{"a"}, err: true},
		{page: `{"items":{"metadata":{}}}`, err: true},
		{page: `[]`, err: true},
	} {
		var names []string
		next, err := decodePage(json.NewDecoder(strings.NewReader(c.page)), func(it *item) error {
			names = append(names, it.Metadata.Name)
			return nil
		})
		if (err != nil) != c.err || next != c.next || !slices.Equal(names, c.names) {
			t.Errorf("decodePage(%s) = %q, %v, visited %v; want %q, error %v, visited %v", c.page, next, err, names, c.next, c.err, c.names)
		}
	}
}
