// Package tenantbench is what the benchmark programs that need a local
// cluster with tenants share: the cluster serving this repository's
// kustomizations/ over git, the plugin run against it and timed, and a
// tenant file for add -f.
package tenantbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// Env is a running local cluster and the plugin binary to measure on it.
type Env struct {
	Cluster *localcluster.Cluster
	root    string
	plugin  string
}

// Start starts a cluster with opts, serving kustomizations/ over git at the
// same path as in the repository. Stop it with Env.Cluster.Stop.
func Start(plugin string, opts localcluster.Options) (*Env, error) {
	plugin, err := filepath.Abs(plugin)
	if err != nil {
		return nil, err
	}
	root, err := localcluster.ModuleRoot()
	if err != nil {
		return nil, err
	}
	opts.GitRepoDir = filepath.Join(root, "kustomizations")
	opts.GitRepoSubdir = "kustomizations"
	c, err := localcluster.Start(context.Background(), opts)
	if err != nil {
		return nil, err
	}
	return &Env{Cluster: c, root: root, plugin: plugin}, nil
}

// Run runs the plugin against the cluster and returns its wall time and
// stdout. An exit code in ok is a result, not a failure (check exits 1
// when a row FAILs).
func (e *Env) Run(ok []int, args ...string) (time.Duration, []byte, error) {
	cmd := exec.Command(e.plugin, append(args, "--kubeconfig", e.Cluster.Kubeconfig())...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil && !slices.Contains(ok, cmd.ProcessState.ExitCode()) {
		return 0, nil, fmt.Errorf("kubectl-tenant %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return took, out.Bytes(), nil
}

// Bootstrap installs Flux from the local bundle, its source pointing at
// the cluster's git server.
func (e *Env) Bootstrap(extra ...string) error {
	manifests := filepath.Join(e.root, "_output", "flux-manifests", render.DefaultFluxVersion)
	_, _, err := e.Run(nil, append([]string{"bootstrap", "--manifests", manifests, "--git-url", e.Cluster.GitURL(), "-o", "name"}, extra...)...)
	return err
}

// TenantFile writes n tenants for add -f, namespaces prefix0000 on, and
// returns its path and a function that removes it.
func TenantFile(prefix string, n int) (string, func(), error) {
	var lines []string
	for i := range n {
		lines = append(lines, fmt.Sprintf("%s%04d,tenant-%04d", prefix, i, i))
	}
	file := filepath.Join(os.TempDir(), fmt.Sprintf("%s-%d.csv", strings.TrimSuffix(prefix, "-"), os.Getpid()))
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return "", nil, err
	}
	return file, func() { os.Remove(file) }, nil
}
