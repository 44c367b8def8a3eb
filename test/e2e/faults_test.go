package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

var (
	clusterRoleGVR        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	clusterRoleBindingGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
	roleBindingGVR        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
)

// TestFaults: each failure gives a one-line error, exit 1, and leaves the
// cluster as it was or completable by running the same command again.
// Flux's CRDs are installed; its controllers are not needed here.
func TestFaults(t *testing.T) {
	t.Parallel()
	shared := startEnv(t, localcluster.Options{ControllerManager: true})
	shared.with(t).mustRun("bootstrap", "--manifests", theSuite.manifests, "--git-url", "https://git.example.com/tenants.git")

	for _, fault := range []struct {
		name string
		run  func(e stepEnv)
	}{
		{"RBAC without rolebindings: the missing permission is named and nothing is applied", faultMissingPermission},
		{"RBAC escalation refused mid-add: the namespace this run created is deleted again", faultEscalationRefused},
		{"a field owned by another manager is a conflict; --force-conflicts takes it", faultFieldConflict},
		{"a different roleRef is refused as immutable; --recreate replaces the RoleBinding", faultRoleRefImmutable},
		{"eight concurrent adds of the same tenant all succeed with one set of objects", faultConcurrentAdds},
		{"a request timeout is reported on one line", faultRequestTimeout},
		{"API server unreachable before, and lost in the middle of, an add; re-running completes", faultConnectionLost},
		{"the API server process stopped before, and in the middle of, an add; re-running completes", faultAPIServerStopped},
		{"no token or client key is printed, even at -v=9", faultNoSecretsPrinted},
	} {
		t.Run(fault.name, func(t *testing.T) { fault.run(shared.with(t)) })
	}
}

// faultMissingPermission is the step "RBAC without rolebindings: the missing permission is named and nothing is applied".
func faultMissingPermission(e stepEnv) {
	t := e.t
	kubeconfig := e.userWithRules("no-rolebindings",
		rule("", "namespaces", "get", "list", "create", "patch", "delete"),
		rule("", "configmaps", "create", "patch"),
		rule("", "serviceaccounts", "create", "patch"),
		rule("kustomize.toolkit.fluxcd.io", "kustomizations", "create", "patch"))
	r := e.runWith("add", "rbacns", "t", "--kubeconfig", kubeconfig)
	assertOneLineFailure(t, r, `missing permission: you cannot create rolebindings.rbac.authorization.k8s.io in namespace "rbacns"`)
	e.assertAbsent(namespaceGVR, "", "rbacns")
}

// faultEscalationRefused is the step "RBAC escalation refused mid-add: the namespace this run created is deleted again".
func faultEscalationRefused(e stepEnv) {
	t := e.t
	// Allowed to write every kind, so the rules review passes, but not
	// to bind cluster-admin, which the API server refuses at apply time.
	kubeconfig := e.userWithRules("no-escalation",
		rule("", "namespaces", "get", "list", "create", "patch", "delete"),
		rule("", "configmaps", "create", "patch"),
		rule("", "serviceaccounts", "create", "patch"),
		rule("rbac.authorization.k8s.io", "rolebindings", "create", "patch"),
		rule("kustomize.toolkit.fluxcd.io", "kustomizations", "create", "patch"))
	r := e.runWith("add", "escns", "t", "--kubeconfig", kubeconfig)
	assertOneLineFailure(t, r, `namespace "escns", which this run created, was deleted again`)
	t.Logf("user sees: %s", strings.TrimSpace(r.stderr))
	e.eventually("namespace escns gone", time.Minute, func() (bool, error) {
		_, err := e.get(namespaceGVR, "", "escns")
		return err != nil, nil
	})
}

// faultFieldConflict is the step "a field owned by another manager is a conflict; --force-conflicts takes it".
func faultFieldConflict(e stepEnv) {
	t := e.t
	e.mustRun("add", "conflictns", "t")
	other := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "tenant-vars", "namespace": "conflictns"},
		"data":     map[string]any{render.PerTenantSubstVar: "changed by someone else"},
	}}
	if _, err := e.client.Resource(configMapGVR).Namespace("conflictns").Apply(context.Background(), "tenant-vars", other, metav1.ApplyOptions{FieldManager: "someone-else", Force: true}); err != nil {
		t.Fatal(err)
	}
	r := e.run("add", "conflictns", "t")
	assertOneLineFailure(t, r, "re-run with --force-conflicts")
	if !strings.Contains(r.stderr, "conflict") {
		t.Errorf("the error does not say conflict: %s", r.stderr)
	}
	e.mustRun("add", "conflictns", "t", "--force-conflicts")
	cm := e.mustGet(configMapGVR, "conflictns", "tenant-vars")
	if v, _, _ := unstructured.NestedString(cm.Object, "data", render.PerTenantSubstVar); v != `This tenant name is "t"` {
		t.Errorf("after --force-conflicts the value is %q", v)
	}
}

// faultRoleRefImmutable is the step "a different roleRef is refused as immutable; --recreate replaces the RoleBinding".
func faultRoleRefImmutable(e stepEnv) {
	t := e.t
	e.mustRun("add", "rolerefns", "t")
	r := e.run("add", "rolerefns", "t", "--cluster-role", "admin")
	assertOneLineFailure(t, r, "re-run with --recreate")
	rb := e.mustGet(roleBindingGVR, "rolerefns", "rolerefns-reconciler")
	if name, _, _ := unstructured.NestedString(rb.Object, "roleRef", "name"); name != "cluster-admin" {
		t.Errorf("the refused add changed roleRef to %q", name)
	}
	e.mustRun("add", "rolerefns", "t", "--cluster-role", "admin", "--recreate")
	rb = e.mustGet(roleBindingGVR, "rolerefns", "rolerefns-reconciler")
	if name, _, _ := unstructured.NestedString(rb.Object, "roleRef", "name"); name != "admin" {
		t.Errorf("--recreate left roleRef %q", name)
	}
}

// faultConcurrentAdds is the step "eight concurrent adds of the same tenant all succeed with one set of objects".
func faultConcurrentAdds(e stepEnv) {
	t := e.t
	var wg sync.WaitGroup
	results := make([]result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not runWith: t.Fatal must not be called from a goroutine.
			r, err := execPlugin(e.home, "add", "concurrentns", "t", "--kubeconfig", e.cluster.Kubeconfig())
			if err != nil {
				r = result{exitCode: -1, stderr: err.Error()}
			}
			results[i] = r
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.exitCode != 0 {
			t.Errorf("add %d failed: %s", i, r.stderr)
		}
	}
	e.assertLive(e.renderTenant("concurrentns", "t"))
	list, err := e.client.Resource(configMapGVR).Namespace("concurrentns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range list.Items {
		names = append(names, cm.GetName())
	}
	// kube-root-ca.crt comes from the controller-manager.
	for _, n := range names {
		if n != "tenant-vars" && n != "kube-root-ca.crt" {
			t.Errorf("unexpected ConfigMap %s", n)
		}
	}
}

// faultRequestTimeout is the step "a request timeout is reported on one line".
func faultRequestTimeout(e stepEnv) {
	t := e.t
	r := e.run("list", "--request-timeout=1ms")
	assertOneLineFailure(t, r, "")
	if !strings.Contains(strings.ToLower(r.stderr), "timeout") && !strings.Contains(r.stderr, "deadline") {
		t.Errorf("the error does not say it timed out: %s", r.stderr)
	}
	t.Logf("user sees: %s", strings.TrimSpace(r.stderr))
}

// faultConnectionLost is the step "API server unreachable before, and lost in the middle of, an add; re-running completes".
func faultConnectionLost(e stepEnv) {
	t := e.t
	dead := e.kubeconfigVia("127.0.0.1:1")
	r := e.runWith("add", "lostns", "t", "--kubeconfig", dead)
	assertOneLineFailure(t, r, "connection refused")
	t.Logf("before: user sees: %s", strings.TrimSpace(r.stderr))
	e.assertAbsent(namespaceGVR, "", "lostns")

	proxy := startSlowProxy(t, strings.TrimPrefix(e.cluster.ServerURL(), "https://"), 40*time.Millisecond)
	// Cut the connection as soon as the namespace exists: the rest of
	// the add is in flight or not yet sent.
	go func() {
		for range 2000 {
			if _, err := e.get(namespaceGVR, "", "lostns"); err == nil {
				proxy.kill()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	r = e.runWith("add", "lostns", "t", "--kubeconfig", e.kubeconfigVia(proxy.addr()))
	if r.exitCode != 1 {
		t.Fatalf("add through a dying connection: exit %d\n%s%s", r.exitCode, r.stdout, r.stderr)
	}
	t.Logf("middle: user sees: %s", strings.TrimSpace(r.stderr))
	if _, err := e.get(kustomizationGVR, "lostns", "dummy"); err == nil {
		t.Errorf("the Kustomization exists, so the connection was not lost mid-add")
	}
	e.mustRun("add", "lostns", "t")
	e.assertLive(e.renderTenant("lostns", "t"))
}

// faultAPIServerStopped is the step "the API server process stopped before, and in the middle of, an add; re-running completes".
func faultAPIServerStopped(e stepEnv) {
	t := e.t
	ctx := context.Background()
	restart := func() {
		t.Helper()
		if err := e.cluster.StartAPIServer(ctx); err != nil {
			t.Fatalf("restarting the API server: %v", err)
		}
	}
	if err := e.cluster.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	r := e.run("add", "stoppedns", "t")
	restart()
	assertOneLineFailure(t, r, "connection refused")
	t.Logf("before: user sees: %s", strings.TrimSpace(r.stderr))
	e.assertAbsent(namespaceGVR, "", "stoppedns")

	// Requests crawl through the proxy, so the API server can be stopped
	// between the namespace and the Kustomization.
	proxy := startSlowProxy(t, strings.TrimPrefix(e.cluster.ServerURL(), "https://"), 40*time.Millisecond)
	stopped := make(chan error, 1)
	go func() {
		for range 2000 {
			if _, err := e.get(namespaceGVR, "", "stoppedns"); err == nil {
				stopped <- e.cluster.StopAPIServer()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		stopped <- fmt.Errorf("namespace stoppedns never appeared")
	}()
	r = e.runWith("add", "stoppedns", "t", "--kubeconfig", e.kubeconfigVia(proxy.addr()))
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	restart()
	if r.exitCode != 1 {
		t.Fatalf("add while the API server stops: exit %d\n%s%s", r.exitCode, r.stdout, r.stderr)
	}
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; n != 1 {
		t.Errorf("the error is %d lines, want one:\n%s", n, r.stderr)
	}
	t.Logf("middle: user sees: %s", strings.TrimSpace(r.stderr))
	if _, err := e.get(kustomizationGVR, "stoppedns", "dummy"); err == nil {
		t.Errorf("the Kustomization exists, so the API server did not stop mid-add")
	}
	e.mustRun("add", "stoppedns", "t")
	e.assertLive(e.renderTenant("stoppedns", "t"))
}

// faultNoSecretsPrinted is the step "no token or client key is printed, even at -v=9".
func faultNoSecretsPrinted(e stepEnv) {
	t := e.t
	const token = "kubectl-tenant-test-secret-token-6f1c"
	tokenConfig := e.kubeconfigWithToken(token)
	r := e.runWith("list", "--kubeconfig", tokenConfig, "-v=9")
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Errorf("the bearer token was printed at -v=9")
	}
	if !strings.Contains(r.stderr, "Authorization: Bearer <masked>") {
		t.Errorf("-v=9 did not log the request headers, so the check above proves nothing:\n%.2000s", r.stderr)
	}
	admin := e.run("list", "-v=9")
	key := clientKeyData(t, e.cluster.Kubeconfig())
	for _, secret := range []string{"PRIVATE KEY", key[:40]} {
		if strings.Contains(admin.stdout+admin.stderr, secret) {
			t.Errorf("-v=9 printed client key material %q", secret)
		}
	}
}

func rule(group, resource string, verbs ...string) map[string]any {
	vs := make([]any, len(verbs))
	for i, v := range verbs {
		vs[i] = v
	}
	return map[string]any{"apiGroups": []any{group}, "resources": []any{resource}, "verbs": vs}
}

// userWithRules makes a user bound cluster-wide to a ClusterRole with these
// rules, and returns a kubeconfig for it.
func (e stepEnv) userWithRules(user string, rules ...map[string]any) string {
	e.t.Helper()
	ctx := context.Background()
	rulesAny := make([]any, len(rules))
	for i, r := range rules {
		rulesAny[i] = r
	}
	role := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": map[string]any{"name": user}, "rules": rulesAny,
	}}
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": user},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
	}}
	if _, err := e.client.Resource(clusterRoleGVR).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.client.Resource(clusterRoleBindingGVR).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	path, err := e.cluster.UserKubeconfig(user)
	if err != nil {
		e.t.Fatal(err)
	}
	return path
}

// kubeconfigVia copies the admin kubeconfig with the server at addr; the
// certificates stay valid because addr is on 127.0.0.1 too.
func (e stepEnv) kubeconfigVia(addr string) string {
	e.t.Helper()
	cfg, err := clientcmd.LoadFromFile(e.cluster.Kubeconfig())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + addr
	}
	path := filepath.Join(e.t.TempDir(), "via.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func (e stepEnv) kubeconfigWithToken(token string) string {
	e.t.Helper()
	cfg, err := clientcmd.LoadFromFile(e.cluster.Kubeconfig())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.ClientCertificateData, u.ClientKeyData, u.Token = nil, nil, token
	}
	path := filepath.Join(e.t.TempDir(), "token.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func clientKeyData(t *testing.T, kubeconfig string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		if len(u.ClientKeyData) > 0 {
			// The base64 body of the PEM, as it would appear if leaked.
			lines := strings.Split(string(u.ClientKeyData), "\n")
			return lines[1]
		}
	}
	t.Fatal("the admin kubeconfig has no client key")
	return ""
}

func assertOneLineFailure(t *testing.T, r result, want string) {
	t.Helper()
	if r.exitCode != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not contain %q", r.stderr, want)
	}
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; n != 1 {
		t.Errorf("the error is %d lines, want one:\n%s", n, r.stderr)
	}
}

// slowProxy forwards TCP to the API server, delaying each chunk from the
// client so that a test can cut it between two requests of one command.
type slowProxy struct {
	listener net.Listener
	mu       sync.Mutex
	conns    []net.Conn
	dead     bool
}

func startSlowProxy(t *testing.T, target string, delay time.Duration) *slowProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{listener: l}
	t.Cleanup(p.kill)
	go func() {
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			if !p.track(client, server) {
				return
			}
			go func() {
				buf := make([]byte, 32*1024)
				for {
					n, err := client.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := server.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						server.Close()
						return
					}
				}
			}()
			go func() { _, _ = io.Copy(client, server); client.Close() }()
		}
	}()
	return p
}

func (p *slowProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

func (p *slowProxy) addr() string { return p.listener.Addr().String() }

// kill is the API server going away: no new connections, existing ones cut.
func (p *slowProxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return
	}
	p.dead = true
	p.listener.Close()
	for _, c := range p.conns {
		c.Close()
	}
}
