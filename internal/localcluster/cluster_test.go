package localcluster_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// startCluster starts a cluster for one test and stops it at the end of the test.
// Missing binaries fail the test (the error says how to build them).
func startCluster(t *testing.T, opts localcluster.Options) *localcluster.Cluster {
	t.Helper()
	if opts.LogDir == "" {
		opts.LogDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting cluster: %v", err)
	}
	t.Logf("cluster started in %s, logs in %s", c.StartupDuration().Round(time.Millisecond), c.LogDir())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs: %s", c.LogDir())
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stopping cluster: %v", err)
		}
	})
	return c
}

func TestNamespaceLifecycle(t *testing.T) {
	c := startCluster(t, localcluster.Options{ControllerManager: true})
	client := kubernetes.NewForConfigOrDie(c.RESTConfig())
	ctx := t.Context()

	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}

	// The serviceaccount controller of kube-controller-manager creates "default".
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	if err != nil {
		t.Fatalf("waiting for the default ServiceAccount: %v", err)
	}

	// The namespace controller finalizes the deletion.
	if err := client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting namespace: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), ignoreNotFound(err)
	})
	if err != nil {
		t.Fatalf("waiting for the namespace to disappear: %v", err)
	}
}

// TestAPIServerRestart: StopAPIServer takes the API away, StartAPIServer
// brings it back on the same address with the data in etcd intact.
func TestAPIServerRestart(t *testing.T) {
	c := startCluster(t, localcluster.Options{})
	client := kubernetes.NewForConfigOrDie(c.RESTConfig())
	ctx := t.Context()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, "kept", metav1.GetOptions{}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("with the API server stopped, GET gave %v, want connection refused", err)
	}
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.StartAPIServer(ctx); err == nil {
		t.Error("StartAPIServer started a second API server")
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

func TestUserKubeconfig(t *testing.T) {
	c := startCluster(t, localcluster.Options{})
	path, err := c.UserKubeconfig("alice", "tenants")
	if err != nil {
		t.Fatal(err)
	}
	// alice is authenticated but has no RBAC permissions, so kubectl gets Forbidden
	// (not Unauthorized) and names her.
	out, err := exec.Command("kubectl", "--kubeconfig", path, "get", "namespaces").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `User "alice" cannot list resource "namespaces"`) {
		t.Fatalf("expected alice to be forbidden, got err=%v output=%s", err, out)
	}
	out, err = exec.Command("kubectl", "--kubeconfig", c.Kubeconfig(), "--context", localcluster.ContextName, "get", "namespaces").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kube-system") {
		t.Fatalf("admin kubeconfig: err=%v output=%s", err, out)
	}
}

func TestGitServer(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "apps", "app.yaml"), "kind: ConfigMap\n")
	c := startCluster(t, localcluster.Options{GitRepoDir: src, GitRepoSubdir: "kustomizations"})
	if !strings.HasPrefix(c.GitURL(), "http://127.0.0.1:") {
		t.Fatalf("unexpected git URL %q", c.GitURL())
	}

	out := git(t, "", "ls-remote", c.GitURL())
	if !strings.Contains(out, "refs/heads/main") {
		t.Fatalf("ls-remote does not list main:\n%s", out)
	}

	clone := filepath.Join(t.TempDir(), "clone")
	git(t, "", "clone", "-q", c.GitURL(), clone)
	if got := readFile(t, filepath.Join(clone, "kustomizations", "apps", "app.yaml")); got != "kind: ConfigMap\n" {
		t.Fatalf("cloned file content %q", got)
	}

	rev, err := c.GitCommit(map[string][]byte{"kustomizations/apps/new.yaml": []byte("new\n")}, "add new")
	if err != nil {
		t.Fatal(err)
	}
	git(t, clone, "pull", "-q")
	if head := git(t, clone, "rev-parse", "HEAD"); head != rev {
		t.Fatalf("pulled HEAD %s, GitCommit returned %s", head, rev)
	}
	if got := readFile(t, filepath.Join(clone, "kustomizations", "apps", "new.yaml")); got != "new\n" {
		t.Fatalf("pulled file content %q", got)
	}
}

func TestMissingBinariesFail(t *testing.T) {
	_, err := localcluster.Start(t.Context(), localcluster.Options{BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "hack/build-tools.sh") {
		t.Fatalf("expected an error pointing at hack/build-tools.sh, got %v", err)
	}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestFluxRunsWithBootstrapsArgs: the harness starts Flux's controllers
// with the args bootstrap renders onto their Deployments, lockdown flags
// included, changing only what names the in-cluster network and files.
func TestFluxRunsWithBootstrapsArgs(t *testing.T) {
	for _, lockdown := range []bool{false, true} {
		args, err := localcluster.FluxControllerArgs(lockdown)
		if err != nil {
			t.Fatal(err)
		}
		kustomize := args["kustomize-controller"]
		for _, flag := range render.LockdownArgs("kustomize-controller") {
			if got := slices.Contains(kustomize, flag); got != lockdown {
				t.Errorf("lockdown=%v: kustomize-controller has %s = %v (args %v)", lockdown, flag, got, kustomize)
			}
		}
		if !slices.Contains(args["source-controller"], "--watch-all-namespaces=true") {
			t.Errorf("source-controller args %v do not watch all namespaces", args["source-controller"])
		}
	}
}
