package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// gitopsLabel keeps the diff and export benchmark's tenants apart from the
// rest, as checkLabel does for check's.
const gitopsLabel = "bench.kubectl-tenant.io/gitops-tenant"

// diffExportAtScale adds cfg.bulk tenants under their own tenant label, with
// variables, and times `diff --all` (nothing differs: every object is read,
// none is sent for a dry run), `export --all --to DIR` into an empty
// directory and again over its own output, and `diff --all` after a hand
// edit of every tenant's variables (every ConfigMap differs and is dry-run
// applied). The cluster still holds the tenants of the rows before, which
// the cluster-wide lists page past.
func (b *bench) diffExportAtScale() error {
	n := b.cfg.bulk
	file, err := b.tenantFile("gop", n)
	if err != nil {
		return err
	}
	label := []string{"--tenant-label", gitopsLabel}
	if _, _, err := b.exec(nil, nil, false, b.cfg.plugin, append([]string{"add", "-f", file, "--concurrency", "16", "-o", "name",
		"--var", "TIER=gold", "--var", "REGION=eu-west-1"}, label...)...); err != nil {
		return err
	}
	runs := max(3, b.cfg.runs/10)
	clean, err := median(runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, true, b.cfg.plugin, append([]string{"diff", "--all"}, label...)...)
		return s, err
	})
	if err != nil {
		return err
	}
	dir := filepath.Join(b.cfg.work, "export")
	first, out, err := b.exec(nil, nil, true, b.cfg.plugin, append([]string{"export", "--all", "--to", dir}, label...)...)
	if err != nil {
		return err
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(files) != n+1 {
		return fmt.Errorf("export --all wrote %d files, want %d:\n%s", len(files), n+1, tail(string(out), 5))
	}
	again, err := median(runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, true, b.cfg.plugin, append([]string{"export", "--all", "--to", dir}, label...)...)
		return s, err
	})
	if err != nil {
		return err
	}
	// A hand edit of every tenant: each ConfigMap now differs from its
	// declared settings and goes to the API server for a dry run.
	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	for i := 0; i < n; i++ {
		_, err := b.client.Resource(configMaps).Namespace(fmt.Sprintf("gop-%05d", i)).Patch(context.Background(), "tenant-vars",
			types.MergePatchType, []byte(`{"data":{"TIER":"silver"}}`), metav1.PatchOptions{FieldManager: "kubectl-patch"})
		if err != nil {
			return err
		}
	}
	drifted, out, err := b.execStatus(nil, nil, true, []int{1}, b.cfg.plugin, append([]string{"diff", "--all"}, label...)...)
	if err != nil {
		return err
	}
	within := func(s sample) bool { return s.wall < 10*time.Second }
	if err := b.row(fmt.Sprintf("diff %d tenants, `diff --all`, nothing differs (median of %d)", n, runs),
		fmt.Sprintf("%s, %s", secs(clean.wall), mib(clean.rss)), "", "", "< 10 s (issue 12)", met(within(clean))); err != nil {
		return err
	}
	if err := b.row(fmt.Sprintf("diff %d tenants, `diff --all`, every tenant's variables hand-edited (%d dry runs)", n, n),
		fmt.Sprintf("%s, %s, %d bytes of diff", secs(drifted.wall), mib(drifted.rss), len(out)), "", "", "< 10 s (issue 12)", met(within(drifted))); err != nil {
		return err
	}
	return b.row(fmt.Sprintf("export %d tenants, `export --all --to DIR`: into an empty DIR / over its own files (median of %d)", n, runs),
		fmt.Sprintf("%s, %s / %s, %s", secs(first.wall), mib(first.rss), secs(again.wall), mib(again.rss)), "", "",
		"< 10 s (issue 12)", met(within(first) && within(again)))
}
