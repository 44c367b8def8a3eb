// Command localcluster runs the local test cluster (etcd, kube-apiserver,
// kube-controller-manager, Flux source- and kustomize-controller and a git server) until
// interrupted. It is used by `make demo`:
//
//	go run ./hack/localcluster [-git-dir DIR] [-git-subdir kustomizations] [-lockdown] [-ready-file PATH]
//
// On stdout it prints shell lines to use the cluster:
//
//	export KUBECONFIG=/tmp/kubectl-tenant-cluster-.../kubeconfig
//	export GIT_URL=http://127.0.0.1:PORT/repo.git
//
// Everything else goes to stderr. The Flux CRDs are not installed; the Flux controllers
// restart until they are (e.g. by `kubectl tenant bootstrap`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/test/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run() error {
	gitDir := flag.String("git-dir", "", "directory committed to the served git repository (default: the project's kustomizations directory)")
	gitSubdir := flag.String("git-subdir", "kustomizations", "path inside the repository where the contents of -git-dir are placed (empty: repository root)")
	lockdown := flag.Bool("lockdown", false, "run kustomize-controller with --default-service-account=default --no-remote-bases=true")
	readyFile := flag.String("ready-file", "", "file to write (containing the KUBECONFIG and GIT_URL lines) once the cluster is up")
	logDir := flag.String("log-dir", "", "directory for process logs (default: inside the cluster's temporary directory)")
	verbose := flag.Bool("v", false, "copy process output to stderr")
	keep := flag.Bool("keep", false, "keep the cluster's temporary directory after exit")
	flag.Parse()

	if *gitDir == "" {
		root, err := cluster.ModuleRoot()
		if err != nil {
			return err
		}
		*gitDir = filepath.Join(root, "kustomizations")
	}

	// Stop on SIGINT/SIGTERM, also while starting.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintln(os.Stderr, "starting local cluster...")
	c, err := cluster.Start(ctx, cluster.Options{
		ControllerManager: true,
		Flux:              true,
		FluxLockdown:      *lockdown,
		GitRepoDir:        *gitDir,
		GitRepoSubdir:     *gitSubdir,
		LogDir:            *logDir,
		Verbose:           *verbose,
		Keep:              *keep,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "stopping local cluster...")
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "localcluster: stop:", err)
		}
	}()

	env := fmt.Sprintf("export KUBECONFIG=%s\nexport GIT_URL=%s\n", c.Kubeconfig(), c.GitURL())
	fmt.Print(env)
	fmt.Fprintf(os.Stderr, "cluster ready in %s (server %s, logs in %s); press Ctrl-C to stop\n",
		c.StartupDuration().Round(time.Millisecond), c.ServerURL(), c.LogDir())
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte(env), 0o644); err != nil {
			return err
		}
		defer os.Remove(*readyFile)
	}

	<-ctx.Done()
	return nil
}
