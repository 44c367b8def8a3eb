// Package bench holds the benchmarks of kubectl-tenant (see README.md in this
// directory). The Go benchmarks here measure the offline render path without
// process start-up; bench/run.sh measures whole commands.
package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

func tenantOptions(ns, name string) render.TenantOptions {
	o := render.DefaultTenantOptions()
	o.Namespace, o.Name = ns, name
	return o
}

// renderYAML is what `add --dry-run=client -o yaml` does for one tenant
// after start-up: render, convert to unstructured, encode as YAML.
func renderYAML(o render.TenantOptions) ([]byte, error) {
	t, err := render.RenderTenant(o)
	if err != nil {
		return nil, err
	}
	objs, err := t.Unstructured()
	if err != nil {
		return nil, err
	}
	return render.EncodeYAML(objs)
}

// BenchmarkRenderTenant is `add foo sometenant --dry-run=client -o yaml`
// after start-up.
func BenchmarkRenderTenant(b *testing.B) {
	o := tenantOptions("foo", "sometenant")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := renderYAML(o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTenantSteps splits the render path into its three steps.
func BenchmarkRenderTenantSteps(b *testing.B) {
	o := tenantOptions("foo", "sometenant")
	t, err := render.RenderTenant(o)
	if err != nil {
		b.Fatal(err)
	}
	objs, err := t.Unstructured()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("RenderTenant", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := render.RenderTenant(o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Unstructured", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := t.Unstructured(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EncodeYAML", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := render.EncodeYAML(objs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func tenantFile(n int) []byte {
	var f strings.Builder
	f.WriteString("namespace,name\n")
	for i := range n {
		fmt.Fprintf(&f, "tenant-%04d,name-%04d\n", i, i)
	}
	return []byte(f.String())
}

// BenchmarkParseTenantList1000 parses a 1000-line CSV tenant file, as
// `add -f` does before anything else.
func BenchmarkParseTenantList1000(b *testing.B) {
	data := tenantFile(1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		entries, err := render.ParseTenantList(data)
		if err != nil || len(entries) != 1000 {
			b.Fatal(err, len(entries))
		}
	}
}

// BenchmarkRenderTenantList1000 is the whole offline path of `add -f` with
// 1000 tenants and --dry-run=client -o yaml: parse, render, encode.
func BenchmarkRenderTenantList1000(b *testing.B) {
	data := tenantFile(1000)
	b.ReportAllocs()
	for b.Loop() {
		entries, err := render.ParseTenantList(data)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range entries {
			if _, err := renderYAML(tenantOptions(e.Namespace, e.Name)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestFirstCallCost logs how long the first call of each render step takes
// in a fresh process (reflection caches cold, as in every CLI invocation),
// next to a second call. Run it alone: go test -run TestFirstCallCost -v ./bench
func TestFirstCallCost(t *testing.T) {
	o := tenantOptions("foo", "sometenant")
	for round, label := range []string{"first", "second"} {
		o.Namespace = fmt.Sprintf("foo%d", round)
		start := time.Now()
		tenant, err := render.RenderTenant(o)
		if err != nil {
			t.Fatal(err)
		}
		rendered := time.Since(start)
		start = time.Now()
		u, err := tenant.Unstructured()
		if err != nil {
			t.Fatal(err)
		}
		converted := time.Since(start)
		start = time.Now()
		if _, err := render.EncodeYAML(u); err != nil {
			t.Fatal(err)
		}
		encoded := time.Since(start)
		t.Logf("FIRSTCALL %s call: RenderTenant %s, Unstructured %s, EncodeYAML %s", label, rendered, converted, encoded)
	}
}
