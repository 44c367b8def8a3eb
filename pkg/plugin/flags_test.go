package plugin

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

// TestGlobalOptions: kubectl's connection flags and -v are left out of
// every command's help, which points at `kubectl tenant options` instead,
// and still parse and complete on every command.
func TestGlobalOptions(t *testing.T) {
	root := NewCmdTenant(genericiooptions.NewTestIOStreamsDiscard(), BuildInfo{})
	var global []string
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { global = append(global, f.Name) })
	if len(global) < 21 {
		t.Fatalf("only %d global options: %v", len(global), global)
	}
	const tip = `Use "kubectl tenant options" for a list of global command-line options (applies to all commands).` + "\n"

	options, _, err := runTenant(t, "options")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range global {
		if !strings.Contains(options, "--"+name+" ") {
			t.Errorf("options does not list --%s:\n%s", name, options)
		}
	}
	if help, _, _ := runTenant(t, "options", "--help"); help != options {
		t.Errorf("options --help = %q, want what options prints", help)
	}

	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
		if cmd.Hidden || cmd.Name() == "options" {
			return
		}
		path := strings.Fields(strings.TrimPrefix(cmd.CommandPath(), root.CommandPath()))
		help, _, err := runTenant(t, append(path, "--help")...)
		if err != nil {
			t.Errorf("%v --help: %v", path, err)
		}
		if !strings.HasSuffix(help, tip) {
			t.Errorf("%v --help does not end with the options line:\n%s", path, help)
		}
		for _, name := range global {
			if strings.Contains(help, "--"+name+" ") {
				t.Errorf("%v --help lists --%s", path, name)
			}
		}
		// Parsed as a command's own flags are, after it.
		if err := cmd.ParseFlags([]string{"--context=x", "--kubeconfig=/k", "-n", "ns", "--request-timeout=1s", "--as=u", "-v=0"}); err != nil {
			t.Errorf("%v does not take the global options: %v", path, err)
		}
	}
	walk(root)

	// And they complete, on a subcommand as on the root.
	for _, args := range [][]string{{"__complete", "list", "--kubec"}, {"__complete", "--kubec"}, {"__complete", "describe", "--req"}} {
		out, _, err := runTenant(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "--kubeconfig\t") && !strings.Contains(out, "--request-timeout\t") {
			t.Errorf("%v offered %q", args, out)
		}
	}
}
