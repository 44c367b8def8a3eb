package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// runTenant runs the command tree in-process and returns what it printed.
func runTenant(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cmd := NewCmdTenant(streams, BuildInfo{Version: "v0.0.0-test", Commit: "abc", Date: "today"})
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// recordingServer is an API server stand-in that fails every request and
// counts them, to prove that bad input never reaches the cluster.
func recordingServer(t *testing.T) (kubeconfig string, requests *atomic.Int64) {
	t.Helper()
	requests = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "recording server refuses everything", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: rec
  cluster:
    server: %s
contexts:
- name: rec
  context:
    cluster: rec
    user: rec
current-context: rec
users:
- name: rec
  user:
    token: secret-token
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, requests
}

func TestAddDryRunClientPrintsGoldenYAML(t *testing.T) {
	// No kubeconfig at all: a client dry run must not need one.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("HOME", t.TempDir())
	want, err := os.ReadFile("../render/testdata/tenant-foo-sometenant.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"add", "--tenant-namespace", "foo", "--tenant-name", "sometenant", "--dry-run=client", "-o", "yaml"},
		{"add", "foo", "sometenant", "--dry-run=client", "-o", "yaml"},
		{"add", "--tenant-name", "sometenant", "foo", "--dry-run", "-o", "yaml"},
	} {
		out, stderr, err := runTenant(t, args...)
		if err != nil {
			t.Fatalf("%v: %v (stderr %q)", args, err, stderr)
		}
		if out != string(want) {
			t.Errorf("%v printed YAML that differs from the render golden file:\n%s", args, diff.Diff(string(want), out))
		}
	}
}

// TestAddConfinedDryRunClientPrintsGoldenYAML: the flags of a confined
// tenant print render's confined golden files: admin by default, the
// tenant's own source from --git-url, and every guardrail flag.
func TestAddConfinedDryRunClientPrintsGoldenYAML(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("HOME", t.TempDir())
	confined := []string{"add", "foo", "sometenant", "--confine", "--git-url", "https://example.com/platform/tenants.git", "--dry-run=client", "-o", "yaml"}
	for golden, args := range map[string][]string{
		"tenant-confined.yaml": confined,
	} {
		want, err := os.ReadFile(filepath.Join("..", "render", "testdata", golden))
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := runTenant(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if out != string(want) {
			t.Errorf("%v differs from %s:\n%s", args, golden, diff.Diff(string(want), out))
		}
	}
	// --confine with --unconfine prints nothing to compare: it is refused.
	if _, _, err := runTenant(t, append(confined, "--unconfine")...); err == nil || !strings.Contains(err.Error(), "--confine and --unconfine cannot be combined") {
		t.Errorf("--confine --unconfine: %v", err)
	}
	out, _, err := runTenant(t, append(confined, "--cluster-role", "edit")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "name: edit") || strings.Contains(out, "name: admin") {
		t.Errorf("an explicit --cluster-role does not win over the confined default:\n%s", out)
	}
	out, _, err = runTenant(t, append(confined, "--quota", "pods=20", "--quota", "requests.cpu=4", "--quota", "count/kustomizations.kustomize.toolkit.fluxcd.io=5",
		"--limit-range", "cpu=100m/500m", "--limit-range", "memory=128Mi", "--network-policy", "isolate")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: ResourceQuota", "pods: \"20\"", "kind: LimitRange", "cpu: 500m", "kind: NetworkPolicy"} {
		if !strings.Contains(out, want) {
			t.Errorf("the guardrail flags print no %q:\n%s", want, out)
		}
	}
}

func TestAddDryRunClientJSONAndName(t *testing.T) {
	out, _, err := runTenant(t, "add", "foo", "sometenant", "--dry-run=client", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var kinds []string
	for dec.More() {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("-o json is not a stream of JSON objects: %v\n%s", err, out)
		}
		kinds = append(kinds, obj["kind"].(string))
	}
	if got := strings.Join(kinds, ","); got != "Namespace,ConfigMap,ServiceAccount,RoleBinding,Kustomization" {
		t.Errorf("-o json kinds in order = %s", got)
	}

	out, _, err = runTenant(t, "add", "foo", "sometenant", "--dry-run=client", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	want := `namespace/foo
configmap/tenant-vars
serviceaccount/foo
rolebinding.rbac.authorization.k8s.io/foo-reconciler
kustomization.kustomize.toolkit.fluxcd.io/dummy
`
	if out != want {
		t.Errorf("-o name printed:\n%s\nwant:\n%s", out, want)
	}

	out, _, err = runTenant(t, "add", "foo", "sometenant", "--dry-run=client")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "namespace/foo serverside-applied (dry run)\n") {
		t.Errorf("default output does not mark the dry run:\n%s", out)
	}
}

func TestAddOutputIsByteIdenticalAcrossRuns(t *testing.T) {
	args := []string{"add", "foo", "sometenant", "--dry-run=client", "-o", "yaml",
		"--var", "Z=1", "--var", "A=2", "--var", "M=3", "--confine", "--git-url", "https://example.com/t.git", "--quota", "pods=2", "--quota", "services=1"}
	first, _, err := runTenant(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		again, _, err := runTenant(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatalf("run %d differs:\n%s", i, diff.Diff(first, again))
		}
	}
	if !strings.Contains(first, "serviceAccountName: foo") {
		t.Errorf("--confine did not set serviceAccountName:\n%s", first)
	}
	if !strings.Contains(first, "  A: \"2\"\n") || strings.Index(first, "  A: ") > strings.Index(first, "  M: ") {
		t.Errorf("--var values missing or unsorted:\n%s", first)
	}
}

// TestBadInputNeverReachesTheCluster runs each bad command against a server
// that counts requests: every one must fail with a one-line error that names
// the bad value, before any request is sent.
func TestBadInputNeverReachesTheCluster(t *testing.T) {
	kubeconfig, requests := recordingServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "Foo", "t"}, `invalid --tenant-namespace "Foo"`},
		{[]string{"add", strings.Repeat("a", 64), "t"}, "no more than 63"},
		{[]string{"add", "--tenant-namespace=-foo", "--tenant-name", "t"}, `invalid --tenant-namespace "-foo"`},
		{[]string{"add", "--tenant-namespace", "", "--tenant-name", "t"}, "invalid --tenant-namespace \"\": must not be empty"},
		{[]string{"add", "föö", "t"}, `invalid --tenant-namespace "föö"`},
		{[]string{"add", "kube-system", "t"}, `invalid --tenant-namespace "kube-system": the namespace is reserved`},
		{[]string{"add", "flux-system", "t"}, "reserved"},
		{[]string{"add", "default", "t"}, "reserved"},
		{[]string{"add", "foo"}, "--tenant-name is required"},
		{[]string{"add", "foo", `a"b`}, `invalid --tenant-name "a\"b"`},
		{[]string{"add", "foo", "a b"}, "invalid --tenant-name"},
		{[]string{"add", "foo", "${X}"}, "invalid --tenant-name"},
		{[]string{"add", "foo", "$(id)"}, "invalid --tenant-name"},
		{[]string{"add", "foo", "`id`"}, "invalid --tenant-name"},
		{[]string{"add", "foo", strings.Repeat("x", 64)}, "invalid --tenant-name"},
		{[]string{"add", "foo", "t", "--var", "NOVALUE"}, `invalid --var "NOVALUE": must be KEY=VALUE`},
		{[]string{"add", "foo", "t", "--var", "BAD-KEY=1"}, `invalid --var name "BAD-KEY"`},
		{[]string{"add", "foo", "t", "--var", "A=1", "--var", "A=2"}, "variable A is given twice"},
		{[]string{"add", "foo", "t", "--source", "HelmRepository/x.y"}, `invalid --source "HelmRepository/x.y"`},
		{[]string{"add", "foo", "t", "--source", "GitRepository/"}, `invalid --source "GitRepository/"`},
		{[]string{"add", "foo", "t", "-o", "xml"}, `output format "xml"`},
		{[]string{"add", "foo", "t", "--dry-run=maybe"}, `invalid dry-run value "maybe"`},
		{[]string{"add", "foo", "t", "extra"}, "accepts at most 2 arg(s)"},
		{[]string{"add", "--tenant-namespace", "foo", "--tenant-name", "t", "x"}, `unexpected argument "x"`},
		{[]string{"add", "foo", "t", "--tenant-label", "not a key"}, `invalid --tenant-label "not a key"`},
		{[]string{"add", "foo", "t", "--interval", "0s"}, "invalid --interval 0s"},
		{[]string{"add", "-f", "/nonexistent.csv"}, "reading -f /nonexistent.csv"},
		{[]string{"add", "-f", "x.csv", "foo", "t"}, "cannot be combined with --tenant-namespace"},
		{[]string{"add", "--concurrency", "0", "foo", "t"}, "invalid --concurrency 0"},
		{[]string{"apply"}, `required flag(s) "filename" not set`},
		{[]string{"apply", "-f", "/nonexistent.yaml"}, "reading -f /nonexistent.yaml"},
		{[]string{"apply", "-f", "../render/testdata/fleet-example.yaml", "--dry-run=client"}, "--dry-run=client cannot plan"},
		{[]string{"apply", "-f", "../render/testdata/fleet-example.yaml", "--prune-limit", "-2"}, "invalid --prune-limit -2"},
		{[]string{"apply", "-f", "testdata", "--prune"}, "-f testdata: the directory holds no tenant file"},
		{[]string{"delete"}, "give --tenant-namespace, --tenant-name or both"},
		{[]string{"delete", "--tenant-namespace", "kube-system"}, `invalid --tenant-namespace "kube-system": the namespace is reserved`},
		{[]string{"delete", "kube-public"}, "reserved"},
		{[]string{"delete", "--tenant-namespace", "flux-system"}, "reserved"},
		{[]string{"delete", "--tenant-namespace", "default"}, "reserved"},
		{[]string{"delete", "--tenant-namespace", "kube-node-lease"}, "reserved"},
		{[]string{"delete", "--tenant-name", "a b"}, "invalid --tenant-name"},
		{[]string{"delete", "foo", "--wait", "--dry-run=server"}, "--wait cannot be combined with --dry-run=server"},
		{[]string{"delete", "foo", "-o", "table"}, `output format "table"`},
		{[]string{"list", "-o", "xml"}, `invalid output format "xml"`},
		{[]string{"list", "-l", "a in (b"}, "invalid selector"},
		{[]string{"list", "--chunk-size", "-1"}, "invalid --chunk-size -1"},
		{[]string{"add", "foo", "t", "--quota", "pods=20"}, "--quota only apply to a confined tenant: add --confine"},
		{[]string{"add", "foo", "t", "--git-url", "https://x/y", "--network-policy", "isolate"}, "--git-url, --network-policy only apply to a confined tenant"},
		{[]string{"add", "foo", "t", "--confine", "--dry-run=client"}, "--confine with --dry-run=client needs --git-url"},
		{[]string{"add", "foo", "t", "--confine", "--unconfine"}, "--confine and --unconfine cannot be combined"},
		{[]string{"add", "foo", "t", "--confine", "--quota", "pods=lots"}, `invalid --quota pods=lots: "lots" is not a quantity`},
		{[]string{"add", "foo", "t", "--confine", "--quota", "pods"}, `invalid --quota "pods": must be RESOURCE=QUANTITY`},
		{[]string{"add", "foo", "t", "--confine", "--quota", "Bad Key=1"}, `invalid --quota Bad Key=1`},
		{[]string{"add", "foo", "t", "--confine", "--quota", "pods=1", "--quota", "pods=2"}, "pods is given twice"},
		{[]string{"add", "foo", "t", "--confine", "--limit-range", "cpu=1/500m"}, "the request is above the limit"},
		{[]string{"add", "foo", "t", "--confine", "--limit-range", "cpu"}, "must be RESOURCE=REQUEST[/LIMIT]"},
		{[]string{"add", "foo", "t", "--confine", "--limit-range", "cpu=x"}, `invalid --limit-range cpu=x: "x" is not a quantity`},
		{[]string{"add", "foo", "t", "--confine", "--network-policy", "open"}, `invalid --network-policy "open": must be isolate`},
		{[]string{"add", "foo", "t", "--confine", "--git-url", "https://x/y", "--copy-source-secret"}, "--copy-source-secret copies the shared source's Secret"},
		{[]string{"add", "foo", "t", "--confine", "--source-interval", "0s"}, "invalid --source-interval 0s"},
		{[]string{"add", "foo", "t", "--timeout", "0s"}, "invalid --timeout 0s"},
		{[]string{"list", "Foo"}, `invalid --tenant-namespace "Foo"`},
		{[]string{"list", "kube-system"}, "the namespace is reserved"},
		{[]string{"list", "foo", "--all"}, "tenant namespaces (foo) cannot be combined with --all"},
		{[]string{"list", "foo", "-l", "team=a"}, `tenant namespaces (foo) cannot be combined with -l "team=a"`},
		{[]string{"list", "--all", "--tenant-name", "t"}, `--all cannot be combined with --tenant-name "t"`},
		{[]string{"list", "--all", "-l", "team=a"}, `--all cannot be combined with -l "team=a"`},
		{[]string{"list", "--tenant-name", "a b"}, "invalid --tenant-name"},
		{[]string{"check", "foo", "--all"}, "tenant namespaces (foo) cannot be combined with --all"},
		{[]string{"check", "--all", "-l", "team=a"}, `--all cannot be combined with -l "team=a"`},
		{[]string{"check", "-o", "xml"}, `invalid output format "xml": check prints a table, json or yaml`},
		{[]string{"check", "-o", "name"}, `invalid output format "name"`},
		{[]string{"check", "-l", "a in (b"}, "invalid selector"},
		{[]string{"check", "Foo"}, `invalid --tenant-namespace "Foo"`},
		{[]string{"check", "--concurrency", "0"}, "invalid --concurrency 0"},
		{[]string{"check", "--kustomization-name", "Not_A_Name"}, `invalid --kustomization-name "Not_A_Name"`},
		{[]string{"suspend"}, "no tenant selected: give tenant namespaces, --tenant-name, -l SELECTOR or --all"},
		{[]string{"suspend", "Foo"}, `invalid --tenant-namespace "Foo"`},
		{[]string{"suspend", "kube-system"}, "the namespace is reserved"},
		{[]string{"suspend", "foo", "--all"}, "tenant namespaces (foo) cannot be combined with --all"},
		{[]string{"resume", "foo", "-l", "team=a"}, `tenant namespaces (foo) cannot be combined with -l "team=a"`},
		{[]string{"reconcile", "--all", "--tenant-name", "t"}, `--all cannot be combined with --tenant-name "t"`},
		{[]string{"reconcile", "--all", "-l", "team=a"}, `--all cannot be combined with -l "team=a"`},
		{[]string{"reconcile", "-l", "a in (b"}, "invalid selector"},
		{[]string{"resume", "--all", "--concurrency", "0"}, "invalid --concurrency 0"},
		{[]string{"resume", "--all", "--timeout", "0s"}, "invalid --timeout 0s"},
		{[]string{"resume", "--all", "--wait", "--dry-run=server"}, "invalid --wait with --dry-run=server"},
		{[]string{"reconcile", "--all", "--wait", "--dry-run"}, "invalid --wait with --dry-run=client"},
		{[]string{"suspend", "--all", "--kustomization-name", "Not_A_Name"}, `invalid --kustomization-name "Not_A_Name"`},
		{[]string{"suspend", "--all", "-o", "xml"}, `output format "xml"`},
		{[]string{"suspend", "--all", "--with-source"}, "unknown flag: --with-source"},
		{[]string{"add", "foo", "t", "--wait", "--dry-run=server"}, "invalid --wait with --dry-run=server"},
		{[]string{"bootstrap", "--git-url", "not a url"}, `invalid --git-url "not a url"`},
		{[]string{"bootstrap", "--git-url", "https://example.com/r", "--components", "helm-operator"}, `invalid --components entry "helm-operator"`},
		{[]string{"bootstrap", "--git-url", "https://example.com/r", "--manifests", "/nonexistent"}, `invalid --manifests "/nonexistent"`},
		{[]string{"bootstrap", "--git-url", "https://example.com/r", "--version", "2.9.5"}, `invalid --version "2.9.5"`},
		{[]string{"bootstrap", "--git-url", "https://example.com/r", "--branch", "a b"}, `invalid --branch "a b"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			before := requests.Load()
			_, _, err := runTenant(t, append(tc.args, "--kubeconfig", kubeconfig)...)
			if err == nil {
				t.Fatal("command succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if sent := requests.Load() - before; sent != 0 {
				t.Errorf("%d requests reached the cluster", sent)
			}
		})
	}
}

func TestAddFromFile(t *testing.T) {
	kubeconfig, requests := recordingServer(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "tenants.csv")
	if err := os.WriteFile(good, []byte("namespace,name\nfoo,sometenant\nbar,other,REGION=eu\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runTenant(t, "add", "-f", good, "--dry-run=client", "-o", "name", "--var", "TIER=gold")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "\n") != 10 || !strings.HasPrefix(out, "namespace/foo\n") {
		t.Errorf("add -f printed:\n%s", out)
	}
	out, _, err = runTenant(t, "add", "-f", good, "--dry-run=client", "-o", "yaml", "--var", "TIER=gold")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "TIER: gold") != 2 || strings.Count(out, "REGION: eu") != 1 {
		t.Errorf("flag and file variables not merged:\n%s", out)
	}

	// One bad line fails the whole file before anything is sent.
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("foo,sometenant\nBAD,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runTenant(t, "add", "-f", bad, "--kubeconfig", kubeconfig)
	if err == nil || !strings.Contains(err.Error(), `tenant 2 (BAD): invalid --tenant-namespace "BAD"`) {
		t.Errorf("bad file: %v", err)
	}
	if requests.Load() != 0 {
		t.Errorf("a bad tenant file still sent %d requests", requests.Load())
	}
}

func TestKubeconfigErrorsAreClear(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	_, _, err := runTenant(t, "list")
	if err == nil || !strings.Contains(err.Error(), "no cluster configured") {
		t.Errorf("list without any kubeconfig: %v", err)
	}
	_, _, err = runTenant(t, "list", "--kubeconfig", "/nonexistent/kubeconfig")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/kubeconfig") {
		t.Errorf("list with a missing --kubeconfig: %v", err)
	}
	unreadable := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(unreadable, []byte("{{{ not yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runTenant(t, "list", "--kubeconfig", unreadable)
	if err == nil || !strings.Contains(err.Error(), "loading kubeconfig") {
		t.Errorf("list with a garbage kubeconfig: %v", err)
	}
	kubeconfig, requests := recordingServer(t)
	_, _, err = runTenant(t, "list", "--kubeconfig", kubeconfig, "--context", "nope")
	if err == nil || !strings.Contains(err.Error(), `context "nope"`) {
		t.Errorf("list with an unknown --context: %v", err)
	}
	if requests.Load() != 0 {
		t.Errorf("an unknown context still sent %d requests", requests.Load())
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runTenant(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if out != "kubectl-tenant v0.0.0-test (commit abc, built today)\n" {
		t.Errorf("version printed %q", out)
	}
}

func TestCompletionAndHelpNameThePlugin(t *testing.T) {
	out, _, err := runTenant(t, "completion", "bash")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "__start_kubectl-tenant") {
		t.Errorf("bash completion is not for kubectl-tenant:\n%.300s", out)
	}
	out, _, err = runTenant(t, "add", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kubectl tenant add") {
		t.Errorf("help does not say kubectl tenant add:\n%s", out)
	}
	// Every kubectl flag is there, so the plugin honours them: listed by
	// options, as kubectl lists its own.
	out, _, err = runTenant(t, "options")
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--kubeconfig", "--context", "--cluster", "--user", "--request-timeout", "--namespace", "--as", "-v, --v"} {
		if !strings.Contains(out, flag) {
			t.Errorf("options lacks %s", flag)
		}
	}
}
