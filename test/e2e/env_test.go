// Package e2e runs the kubectl-tenant binary against a real kube-apiserver,
// etcd, kube-controller-manager and Flux source- and kustomize-controller,
// started on loopback by internal/localcluster. Each test starts a cluster of
// its own and runs in parallel with the others (go test -parallel), as they
// spend most of their time waiting on Flux.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

var (
	namespaceGVR      = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	configMapGVR      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deploymentGVR     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	kustomizationGVR  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	gitRepositoryGVR  = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	crdGVR            = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	reconcileDeadline = 3 * time.Minute
)

// suite is what TestMain prepares once: the plugin binary and paths.
type suite struct {
	root      string // module root
	binary    string // the kubectl-tenant built for this run
	manifests string // local Flux install bundle
}

// the suite is set once by TestMain before any test runs and only read after.
var theSuite suite

func TestMain(m *testing.M) {
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e set-up failed:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setUp(m *testing.M) (int, error) {
	root, err := localcluster.ModuleRoot()
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "kubectl-tenant-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	binary := filepath.Join(tmp, "kubectl-tenant")
	// Built as the release builds it (.goreleaser.yaml: CGO off, -trimpath), so
	// the tests run what users install; it also shares compiled packages with
	// make dist-test's snapshot.
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "-ldflags", "-X main.version=v0.0.0-e2e", "./cmd/kubectl-tenant")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("building kubectl-tenant: %v\n%s", err, out)
	}
	manifests := filepath.Join(root, "_output", "flux-manifests", render.DefaultFluxVersion)
	if _, err := os.Stat(filepath.Join(manifests, "kustomize-controller.yaml")); err != nil {
		return 0, fmt.Errorf("the Flux install bundle is missing (run hack/build-tools.sh or make tools): %w", err)
	}
	theSuite = suite{root: root, binary: binary, manifests: manifests}
	return m.Run(), nil
}

// env is one running cluster and the means to drive it, shared by the steps
// of a test. It holds no *testing.T: each step drives it through with.
type env struct {
	cluster *localcluster.Cluster
	client  dynamic.Interface
	home    string
}

// stepEnv is the shared env as one test or subtest uses it: its checks
// report to t. It is a small value; making one changes nothing shared.
type stepEnv struct {
	t *testing.T
	*env
}

// with returns the env for the test or subtest t.
func (e *env) with(t *testing.T) stepEnv {
	return stepEnv{t: t, env: e}
}

// startEnv starts a cluster for one test and stops it when the test ends.
func startEnv(t *testing.T, opts localcluster.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the local cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs were in %s", c.LogDir())
		}
		_ = c.Stop()
	})
	t.Logf("cluster started in %s", c.StartupDuration().Round(time.Millisecond))
	client, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &env{cluster: c, client: client, home: t.TempDir()}
}

// fluxEnvOptions are the options of a cluster that runs Flux and serves this
// repository's kustomizations/ over git, at the same path as in the repo.
func fluxEnvOptions(lockdown bool) localcluster.Options {
	return localcluster.Options{
		ControllerManager: true,
		Flux:              true,
		FluxLockdown:      lockdown,
		GitRepoDir:        filepath.Join(theSuite.root, "kustomizations"),
		GitRepoSubdir:     "kustomizations",
	}
}

type result struct {
	stdout, stderr string
	exitCode       int
}

// execPlugin runs the plugin binary with exactly these arguments. It is
// safe to call from several goroutines.
func execPlugin(home string, args ...string) (result, error) {
	return execPluginEnv(home, nil, args...)
}

// execPluginEnv is execPlugin with extra environment variables.
func execPluginEnv(home string, env []string, args ...string) (result, error) {
	cmd := exec.Command(theSuite.binary, args...)
	// A private HOME keeps the user's ~/.kube out of the test.
	cmd.Env = append(append(os.Environ(), "HOME="+home, "KUBECONFIG="), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		r.exitCode = exitErr.ExitCode()
		err = nil
	}
	if err == nil && (strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ")) {
		err = fmt.Errorf("kubectl-tenant %v crashed:\n%s", args, r.stderr)
	}
	return r, err
}

// runWith runs the plugin binary with exactly these arguments.
func (e stepEnv) runWith(args ...string) result {
	e.t.Helper()
	r, err := execPlugin(e.home, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// run runs the plugin against this env's cluster.
func (e stepEnv) run(args ...string) result {
	e.t.Helper()
	return e.runWith(append(args, "--kubeconfig", e.cluster.Kubeconfig())...)
}

// mustRun runs the plugin and fails the test unless it succeeds.
func (e stepEnv) mustRun(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.exitCode != 0 {
		e.t.Fatalf("kubectl-tenant %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.exitCode, r.stdout, r.stderr)
	}
	return r.stdout
}

// mustFail runs the plugin, expects exit 1 and a one-line error containing want.
func (e stepEnv) mustFail(want string, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.exitCode != 1 {
		e.t.Fatalf("kubectl-tenant %s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.exitCode, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		e.t.Errorf("kubectl-tenant %s: stderr %q does not contain %q", strings.Join(args, " "), r.stderr, want)
	}
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines != 1 {
		e.t.Errorf("kubectl-tenant %s: error is %d lines, want one:\n%s", strings.Join(args, " "), lines, r.stderr)
	}
	return r
}

// bootstrap installs Flux from the local bundle, pointing at the harness's
// git server.
func (e stepEnv) bootstrap(extra ...string) string {
	e.t.Helper()
	args := append([]string{"bootstrap", "--manifests", theSuite.manifests, "--git-url", e.cluster.GitURL()}, extra...)
	return e.mustRun(args...)
}

func (e *env) get(gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	if namespace == "" {
		return e.client.Resource(gvr).Get(context.Background(), name, metav1.GetOptions{})
	}
	return e.client.Resource(gvr).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
}

func (e stepEnv) mustGet(gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	e.t.Helper()
	obj, err := e.get(gvr, namespace, name)
	if err != nil {
		e.t.Fatalf("get %s %s/%s: %v", gvr.Resource, namespace, name, err)
	}
	return obj
}

func (e stepEnv) assertAbsent(gvr schema.GroupVersionResource, namespace, name string) {
	e.t.Helper()
	if _, err := e.get(gvr, namespace, name); !apierrors.IsNotFound(err) {
		e.t.Errorf("%s %s/%s: want NotFound, got %v", gvr.Resource, namespace, name, err)
	}
}

func (e stepEnv) createNamespace(name string, labels map[string]string) {
	e.t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	ns.SetLabels(labels)
	if _, err := e.client.Resource(namespaceGVR).Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// eventually polls check until it returns true or the deadline passes.
func (e stepEnv) eventually(what string, timeout time.Duration, check func() (bool, error)) {
	e.t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, err := check()
		last = err
		return ok, nil
	})
	if err != nil {
		e.t.Fatalf("timed out after %s waiting for %s (last error: %v); logs in %s", timeout, what, last, e.cluster.LogDir())
	}
}

// waitGitRepositoryReady waits until the GitRepository has fetched.
func (e stepEnv) waitGitRepositoryReady(namespace, name string) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("GitRepository %s/%s Ready", namespace, name), reconcileDeadline, func() (bool, error) {
		repo, err := e.get(gitRepositoryGVR, namespace, name)
		if err != nil {
			return false, err
		}
		status, msg := readyCondition(repo)
		return status == "True", fmt.Errorf("Ready=%s: %s", status, msg)
	})
}

// readyCondition returns the status and message of obj's Ready condition.
func readyCondition(obj *unstructured.Unstructured) (status, message string) {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			status, _ = m["status"].(string)
			message, _ = m["message"].(string)
		}
	}
	return status, message
}

// waitKustomization waits until the Kustomization's Ready condition has
// the wanted status and returns its message.
func (e stepEnv) waitKustomization(namespace, name, want string) string {
	e.t.Helper()
	var message string
	e.eventually(fmt.Sprintf("Kustomization %s/%s Ready=%s", namespace, name, want), reconcileDeadline, func() (bool, error) {
		ks, err := e.get(kustomizationGVR, namespace, name)
		if err != nil {
			return false, err
		}
		status, msg := readyCondition(ks)
		message = msg
		return status == want, fmt.Errorf("Ready=%s: %s", status, msg)
	})
	return message
}

// renderTenant is what `add` renders for these arguments.
func (e stepEnv) renderTenant(args ...string) []*unstructured.Unstructured {
	e.t.Helper()
	out := e.mustRun(append([]string{"add", "--dry-run=client", "-o", "yaml"}, args...)...)
	objs, err := render.DecodeYAML([]byte(out))
	if err != nil {
		e.t.Fatal(err)
	}
	return objs
}

// assertLive checks that the cluster holds every rendered object with every
// rendered field at the rendered value.
func (e stepEnv) assertLive(rendered []*unstructured.Unstructured) {
	e.t.Helper()
	for _, want := range rendered {
		gvr := gvrOf(want)
		live := e.mustGet(gvr, want.GetNamespace(), want.GetName())
		if path, ok := contains(live.Object, want.Object, ""); !ok {
			e.t.Errorf("%s %s/%s: live object differs from the render at %s", want.GetKind(), want.GetNamespace(), want.GetName(), path)
		}
	}
}

func gvrOf(obj *unstructured.Unstructured) schema.GroupVersionResource {
	plural, _ := meta.UnsafeGuessKindToResource(obj.GroupVersionKind())
	return plural
}

// contains reports whether every field of want is in got with the same
// value; lists must match element by element. It returns the first path
// that differs.
func contains(got, want any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		for k, v := range w {
			if p, ok := contains(g[k], v, path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := contains(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	default:
		return path, fmt.Sprint(got) == fmt.Sprint(want)
	}
}

// managedFieldsTimeResolution is the resolution of managedFields timestamps:
// the API server stores them in whole seconds.
const managedFieldsTimeResolution = time.Second

// writesBy fingerprints what a field manager last wrote to each object: its
// managedFields entry (with its timestamp) and the object's generation. A
// server-side apply that changes nothing leaves both alone, while the
// controllers' own status and finalizer writes do not show here.
//
// A write in the same second as the newest entry would leave its timestamp
// as it is, so writesBy returns only once that second is over: from then on
// any write by the manager changes the fingerprint. The API server runs on
// this machine and stamps the entries with the same clock.
func (e stepEnv) writesBy(manager string, objs []*unstructured.Unstructured) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	var newest time.Time
	for _, o := range objs {
		live := e.mustGet(gvrOf(o), o.GetNamespace(), o.GetName())
		fingerprint := fmt.Sprintf("generation=%d", live.GetGeneration())
		for _, mf := range live.GetManagedFields() {
			if mf.Manager == manager {
				fingerprint += fmt.Sprintf(" %s@%s %s", mf.Operation, mf.Time, mf.FieldsV1.String())
				if mf.Time != nil && mf.Time.After(newest) {
					newest = mf.Time.Time
				}
			}
		}
		out[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = fingerprint
	}
	time.Sleep(time.Until(newest.Truncate(managedFieldsTimeResolution).Add(managedFieldsTimeResolution)))
	return out
}
