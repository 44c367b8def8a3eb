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

// WithPlugin is the same cluster with another plugin binary to measure:
// a build from before a change, timed against the one after it on the
// same tenants.
func (e *Env) WithPlugin(plugin string) (*Env, error) {
	plugin, err := filepath.Abs(plugin)
	if err != nil {
		return nil, err
	}
	return &Env{Cluster: e.Cluster, root: e.root, plugin: plugin}, nil
}

// Run runs the plugin against the cluster and returns its wall time and
// stdout. An exit code in ok is a result, not a failure (check exits 1
// when a row FAILs).
func (e *Env) Run(ok []int, args ...string) (time.Duration, []byte, error) {
	s, out, _, err := e.MeasureOutput(ok, args...)
	return s.Wall, out, err
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

// Sample is one timed plugin run: its wall time, the CPU time it took
// itself and the CPU time the cluster's processes (API server, etcd,
// controllers) spent meanwhile. On a shared machine the wall time follows
// the load; the CPU times do not, and bound what a quiet machine takes.
type Sample struct {
	Wall, PluginCPU, ClusterCPU time.Duration
}

// Measure runs the plugin as Run does and samples the CPU time around it.
func (e *Env) Measure(args ...string) (Sample, error) {
	s, _, _, err := e.MeasureOutput(nil, args...)
	return s, err
}

// MeasureOutput is Measure that keeps the plugin's stdout and stderr (a
// -v=6 request log goes to stderr), and takes the exit codes in ok as
// results, as Run does.
func (e *Env) MeasureOutput(ok []int, args ...string) (Sample, []byte, []byte, error) {
	before, err := e.clusterCPU()
	if err != nil {
		return Sample{}, nil, nil, err
	}
	cmd := exec.Command(e.plugin, append(args, "--kubeconfig", e.Cluster.Kubeconfig())...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	s := Sample{Wall: time.Since(start)}
	if err != nil && (cmd.ProcessState == nil || !slices.Contains(ok, cmd.ProcessState.ExitCode())) {
		return Sample{}, nil, nil, fmt.Errorf("kubectl-tenant %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	s.PluginCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	after, err := e.clusterCPU()
	if err != nil {
		return Sample{}, nil, nil, err
	}
	s.ClusterCPU = after - before
	return s, out.Bytes(), errOut.Bytes(), nil
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// clusterCPU sums the CPU time of the processes whose command line names
// the cluster's directory: its API server, etcd and controllers.
func (e *Env) clusterCPU() (time.Duration, error) {
	dir := filepath.Dir(e.Cluster.LogDir())
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, entry := range entries {
		if entry.Name()[0] < '0' || entry.Name()[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The fields after the command name, which is in parentheses and
		// may hold spaces: state is field 3, utime 14, stime 15.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		var utime, stime int64
		fmt.Sscan(fields[11], &utime)
		fmt.Sscan(fields[12], &stime)
		total += time.Duration(utime+stime) * clockTick
	}
	return total, nil
}
