// Command demo runs the demo the project replaces, end to end, on a local
// cluster: it starts kube-apiserver, etcd, kube-controller-manager and the
// Flux controllers, runs `kubectl tenant bootstrap`, adds two tenants, waits
// until Flux has reconciled them and prints what it made. Run it with
// `make demo` (KEEP=1 to leave the cluster running).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

type demo struct {
	plugin  string
	cluster *localcluster.Cluster
	client  dynamic.Interface
	confine bool
}

func main() {
	plugin := flag.String("plugin", "./kubectl-tenant", "path of the kubectl-tenant binary")
	keep := flag.Bool("keep", false, "leave the cluster running until interrupted")
	confine := flag.Bool("confine", true, "bootstrap --lockdown and add --confine (false: the demo's original, unconfined mode)")
	flag.Parse()
	if err := run(*plugin, *keep, *confine); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(plugin string, keep, confine bool) error {
	root, err := localcluster.ModuleRoot()
	if err != nil {
		return err
	}
	if plugin, err = filepath.Abs(plugin); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	c, err := localcluster.Start(ctx, localcluster.Options{
		ControllerManager: true,
		Flux:              true,
		FluxLockdown:      confine,
		GitRepoDir:        filepath.Join(root, "kustomizations"),
		GitRepoSubdir:     "kustomizations",
		Keep:              keep,
	})
	if err != nil {
		return fmt.Errorf("starting the local cluster: %w", err)
	}
	defer c.Stop()
	fmt.Printf("Local cluster up in %s (kube-apiserver %s, logs in %s)\n\n", time.Since(start).Round(time.Millisecond), c.ServerURL(), c.LogDir())
	client, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	d := &demo{plugin: plugin, cluster: c, client: client, confine: confine}

	bootstrap := []string{"bootstrap", "--manifests", filepath.Join(root, "_output", "flux-manifests", render.DefaultFluxVersion), "--git-url", c.GitURL(), "-o", "name"}
	if confine {
		bootstrap = append(bootstrap, "--lockdown")
	}
	if err := d.tenant(bootstrap...); err != nil {
		return err
	}
	tenants := [][2]string{{"foo", "sometenant"}, {"tenant81", "anothertenant"}}
	for _, t := range tenants {
		args := []string{"add", "--tenant-namespace", t[0], "--tenant-name", t[1]}
		if confine {
			args = append(args, "--confine")
		}
		if err := d.tenant(args...); err != nil {
			return err
		}
	}
	added := time.Now()
	for _, t := range tenants {
		if err := d.waitReady(ctx, t[0]); err != nil {
			return err
		}
	}
	fmt.Printf("\nFlux reconciled both tenants %s after add.\n\n", time.Since(added).Round(time.Millisecond))
	if err := d.tenant("list"); err != nil {
		return err
	}
	fmt.Println()
	for _, t := range tenants {
		if err := d.printDeploymentEnv(ctx, t[0]); err != nil {
			return err
		}
	}
	if keep {
		fmt.Printf("\nThe cluster keeps running until you press Ctrl-C. In another shell:\n\n  export KUBECONFIG=%s\n  %s list\n\n", c.Kubeconfig(), plugin)
		<-ctx.Done()
	}
	return nil
}

// tenant runs `kubectl tenant ARGS` against the local cluster, showing the
// command and its output.
func (d *demo) tenant(args ...string) error {
	fmt.Printf("$ kubectl tenant %s\n", strings.Join(args, " "))
	cmd := exec.Command(d.plugin, append(args, "--kubeconfig", d.cluster.Kubeconfig())...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl tenant %s: %w", args[0], err)
	}
	return nil
}

func (d *demo) waitReady(ctx context.Context, namespace string) error {
	gvr := schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	return wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		ks, err := d.client.Resource(gvr).Namespace(namespace).Get(ctx, render.DefaultKustomizationName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conditions, _, _ := unstructured.NestedSlice(ks.Object, "status", "conditions")
		for _, c := range conditions {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}

func (d *demo) printDeploymentEnv(ctx context.Context, namespace string) error {
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	deploy, err := d.client.Resource(gvr).Namespace(namespace).Get(ctx, "dummy", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading the Deployment Flux made in %s: %w", namespace, err)
	}
	fmt.Printf("Deployment %s/dummy, env as substituted by Flux:\n", namespace)
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		env, _, _ := unstructured.NestedSlice(c.(map[string]any), "env")
		for _, e := range env {
			m := e.(map[string]any)
			fmt.Printf("  %s=%s\n", m["name"], m["value"])
		}
	}
	return nil
}
