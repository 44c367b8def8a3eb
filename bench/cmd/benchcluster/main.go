// Command benchcluster starts the local cluster of internal/localcluster (etcd,
// kube-apiserver, kube-controller-manager; no Flux controllers) for the
// benchmarks, writes "KUBECONFIG=..." to -ready-file once it is up, and stops
// it on SIGINT/SIGTERM. bench/run.sh starts it and stops it on exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
)

func main() {
	readyFile := flag.String("ready-file", "", "file to write KUBECONFIG=<path> to once the cluster is ready")
	flag.Parse()
	if err := run(*readyFile); err != nil {
		fmt.Fprintln(os.Stderr, "benchcluster:", err)
		os.Exit(1)
	}
}

func run(readyFile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := localcluster.Start(ctx, localcluster.Options{ControllerManager: true})
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Fprintf(os.Stderr, "benchcluster: ready in %s, logs in %s\n", c.StartupDuration().Round(1e6), c.LogDir())
	if readyFile != "" {
		if err := os.WriteFile(readyFile+".tmp", []byte("KUBECONFIG="+c.Kubeconfig()+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(readyFile+".tmp", readyFile); err != nil {
			return err
		}
	}
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "benchcluster: stopping")
	return nil
}
