package render

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRenderTenant is the whole offline path of `add --dry-run=client
// -o yaml` for one tenant, without process start-up.
func BenchmarkRenderTenant(b *testing.B) {
	o := sampleOptions()
	o.Vars = map[string]string{"REGION": "eu-west-1", "TIER": "gold"}
	b.ReportAllocs()
	for b.Loop() {
		tenant, err := RenderTenant(o)
		if err != nil {
			b.Fatal(err)
		}
		objs, err := tenant.Unstructured()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := EncodeYAML(objs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTenantList1000(b *testing.B) {
	var file strings.Builder
	file.WriteString("namespace,name\n")
	for i := range 1000 {
		fmt.Fprintf(&file, "tenant-%04d,name-%04d,REGION=eu-west-%d\n", i, i, i%3)
	}
	data := []byte(file.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		entries, err := ParseTenantList(data)
		if err != nil || len(entries) != 1000 {
			b.Fatal(err, len(entries))
		}
	}
}
