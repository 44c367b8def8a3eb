package plugin

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// TestHandoverRefusesBadInputBeforeTheCluster: a client dry run (which
// could not tell who owns a field), an empty selection and a bad
// concurrency are one-line errors, and no request reaches the API server.
func TestHandoverRefusesBadInputBeforeTheCluster(t *testing.T) {
	kubeconfig, requests := recordingServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"handover", "--all", "--dry-run=client"}, "--dry-run=client is not supported: handover reads who owns each field from the cluster"},
		{[]string{"handover", "--all", "--dry-run"}, "--dry-run=client is not supported"},
		{[]string{"handover"}, "--all"},
		{[]string{"handover", "foo", "--all"}, "cannot be combined with --all"},
		{[]string{"handover", "--all", "--concurrency", "0"}, "invalid --concurrency 0"},
	} {
		_, _, err := runTenant(t, append(tc.args, "--kubeconfig", kubeconfig)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err %v, want one line with %q", tc.args, err, tc.want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the API server", n)
	}
}

// TestHandoverHelpSaysWhyAndWhatNotToDo: the help explains the shared
// ownership handover ends, and warns that add takes the fields back.
func TestHandoverHelpSaysWhyAndWhatNotToDo(t *testing.T) {
	out, _, err := runTenant(t, "handover", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stays on the cluster", "git alone decides", `do not run "kubectl tenant add"`, "--dry-run"} {
		if !strings.Contains(out, want) {
			t.Errorf("handover --help lacks %q:\n%s", want, out)
		}
	}
}

// TestHandoverReport: one line per tenant in selection order, handed-over
// tenants on stdout and the others on stderr, and the summary error only
// when a tenant was not handed over.
func TestHandoverReport(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := &HandoverOptions{IOStreams: streams, DryRun: tenant.DryRunServer}
	tenants := []*tenant.Tenant{{Namespace: "a"}, {Namespace: "b"}, {Namespace: "c"}, {Namespace: "d"}}
	results := []handoverResult{
		{released: 5},
		{},
		{err: &tenant.NotAppliedByFlux{Object: "ConfigMap tenant-vars", Field: tenant.FieldPath{"data", "TIER"}}},
		{released: 2, err: errors.New("releasing Namespace d: the object has been modified")},
	}
	err := o.report(tenants, results)
	var failed *tenant.FailedError
	if !errors.As(err, &failed) || err.Error() != "2 of 4 tenants not handed over (the lines above say why)" {
		t.Errorf("err %v, want 2 of 4 not handed over", err)
	}
	wantOut := "tenant a handed over to git (5 objects) (server dry run)\n" +
		"tenant b: nothing to hand over: kubectl-tenant owns none of its fields (server dry run)\n"
	if out.String() != wantOut {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, wantOut)
	}
	wantErr := "tenant c: not handed over: Flux has not applied ConfigMap tenant-vars data.TIER yet (is the tree exported, committed and reconciled?)\n" +
		"tenant d: handover stopped after 2 objects: releasing Namespace d: the object has been modified (run handover again)\n"
	if errOut.String() != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, wantErr)
	}
	if err := o.report(tenants[:2], results[:2]); err != nil {
		t.Errorf("all handed over: %v", err)
	}
}
