package plugin

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// TestPrintFlagsOnlyWhereTheyWork: kubectl's template and managed-fields
// flags are offered by the commands that print objects through kubectl's
// printers, and not by those that print a report of their own, where they
// would do nothing; -o is on both.
func TestPrintFlagsOnlyWhereTheyWork(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("HOME", t.TempDir())
	root := NewCmdTenant(genericiooptions.NewTestIOStreamsDiscard(), BuildInfo{})
	kubectlPrintFlags := []string{"template", "show-managed-fields", "allow-missing-template-keys"}
	for _, tc := range []struct {
		command string
		printer bool
	}{
		{"add", true},
		{"list", true},
		{"delete", true},
		{"suspend", true},
		{"resume", true},
		{"reconcile", true},
		{"export", true},
		{"bootstrap", true},
		{"check", false},
		{"describe", false},
	} {
		cmd, _, err := root.Find([]string{tc.command})
		if err != nil || cmd.Name() != tc.command {
			t.Fatalf("no command %s: %v", tc.command, err)
		}
		if cmd.Flags().Lookup("output") == nil {
			t.Errorf("%s has no -o", tc.command)
		}
		for _, name := range kubectlPrintFlags {
			if got := cmd.Flags().Lookup(name) != nil; got != tc.printer {
				t.Errorf("%s has --%s: %v, want %v", tc.command, name, got, tc.printer)
			}
		}
	}

	// A report command refuses them as it refuses any unknown flag.
	for _, args := range [][]string{
		{"check", "--template", "{{.}}"},
		{"describe", "foo", "--show-managed-fields"},
		{"check", "--allow-missing-template-keys=false"},
	} {
		if _, _, err := runTenant(t, args...); err == nil || !strings.Contains(err.Error(), "unknown flag") {
			t.Errorf("%v: err = %v, want unknown flag", args, err)
		}
	}
}

// TestLockdownHelpNamesWhatItSets: bootstrap --help names every lockdown
// flag kustomize-controller gets and the guardrail policy.
func TestLockdownHelpNamesWhatItSets(t *testing.T) {
	out, _, err := runTenant(t, "bootstrap", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(render.LockdownArgs("kustomize-controller"), render.GuardrailPolicyName) {
		if !strings.Contains(out, want) {
			t.Errorf("bootstrap --help does not name %s:\n%s", want, out)
		}
	}
}
