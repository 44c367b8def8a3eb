package plugin

import (
	"strings"
	"testing"
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
