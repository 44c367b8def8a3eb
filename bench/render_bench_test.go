// Package bench holds the benchmarks of kubectl-tenant (see README.md in this
// directory). The Go benchmarks here measure the offline render path without
// process start-up, and BenchmarkFirstCall its first calls in fresh
// processes; bench/run.sh measures whole commands.
package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
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

// firstCallEnv, set in the environment, makes this test binary time the
// first and second call of each render step and print the times instead of
// running tests or benchmarks: BenchmarkFirstCall runs it so as a child.
const firstCallEnv = "KUBECTL_TENANT_BENCH_FIRSTCALL"

var (
	renderSteps = []string{"RenderTenant", "Unstructured", "EncodeYAML"}
	callRounds  = []string{"first", "second"}
)

func TestMain(m *testing.M) {
	if os.Getenv(firstCallEnv) != "" {
		if err := timeFirstCalls(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// timeFirstCalls times each render step on its first call in this process
// and again on a second call, and writes one line per call round:
// the round and the nanoseconds of each step in the order of renderSteps.
func timeFirstCalls(w io.Writer) error {
	o := tenantOptions("foo", "sometenant")
	for round, label := range callRounds {
		o.Namespace = fmt.Sprintf("foo%d", round)
		start := time.Now()
		tenant, err := render.RenderTenant(o)
		if err != nil {
			return err
		}
		rendered := time.Since(start)
		start = time.Now()
		u, err := tenant.Unstructured()
		if err != nil {
			return err
		}
		converted := time.Since(start)
		start = time.Now()
		if _, err := render.EncodeYAML(u); err != nil {
			return err
		}
		encoded := time.Since(start)
		fmt.Fprintln(w, label, rendered.Nanoseconds(), converted.Nanoseconds(), encoded.Nanoseconds())
	}
	return nil
}

// BenchmarkFirstCall measures how long the first call of each render step
// takes in a fresh process (reflection caches cold, as in every CLI
// invocation), next to a second call. Every iteration runs this test binary
// again as a child that times both calls (timeFirstCalls); the benchmark
// reports the mean over the children as ns/first-STEP and ns/second-STEP.
// ns/op is a whole child, process start-up included.
func BenchmarkFirstCall(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	sums := map[string]float64{}
	children := 0
	for b.Loop() {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), firstCallEnv+"=1")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("timing the first calls in a child process: %v", err)
		}
		for line := range strings.Lines(string(out)) {
			f := strings.Fields(line)
			if len(f) != 1+len(renderSteps) || !slices.Contains(callRounds, f[0]) {
				b.Fatalf("unexpected line from the child process: %q", line)
			}
			for i, step := range renderSteps {
				ns, err := strconv.ParseInt(f[1+i], 10, 64)
				if err != nil {
					b.Fatalf("unexpected line from the child process: %q", line)
				}
				sums[f[0]+"-"+step] += float64(ns)
			}
		}
		children++
	}
	for _, round := range callRounds {
		for _, step := range renderSteps {
			b.ReportMetric(sums[round+"-"+step]/float64(children), "ns/"+round+"-"+step)
		}
	}
}
