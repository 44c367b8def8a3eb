package plugin

import (
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// addSelectionFlags adds every selection flag, and completion of tenant
// namespaces as arguments.
func addSelectionFlags(cmd *cobra.Command, s *tenant.Selection, configFlags *genericclioptions.ConfigFlags) {
	addNameFlags(cmd, s, configFlags)
	s.Notes = commandErr{cmd}
	f := cmd.Flags()
	f.StringVarP(&s.Selector, "selector", "l", "", "Label selector on tenant namespaces (e.g. -l team=payments)")
	f.BoolVar(&s.All, "all", false, "Select every tenant")
	f.Int64Var(&s.ChunkSize, "chunk-size", s.ChunkSize, "Return large lists in chunks rather than all at once; 0 disables chunking")
	complete := tenantCompletion{configFlags: configFlags, selection: s}
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		names, directive := complete.namespaces(cmd, args, toComplete)
		return slices.DeleteFunc(names, func(n string) bool { return slices.Contains(args, n) }), directive
	}
}

// addNameFlags adds only the flags that pick tenants by name, for commands
// that act on exactly one (delete).
func addNameFlags(cmd *cobra.Command, s *tenant.Selection, configFlags *genericclioptions.ConfigFlags) {
	f := cmd.Flags()
	f.StringVar(&s.LabelKey, "tenant-label", s.LabelKey, "Label key on the namespace whose value is the tenant name")
	f.StringVar(&s.Name, "tenant-name", "", "Select the tenant with this name: every namespace kubectl tenant made the tenant's")
	complete := tenantCompletion{configFlags: configFlags, selection: s}
	_ = cmd.RegisterFlagCompletionFunc("tenant-name", complete.names)
}

// commandErr writes to the command's error stream as it is when written
// to: the root sets the streams after the subcommands are built.
type commandErr struct{ cmd *cobra.Command }

func (w commandErr) Write(p []byte) (int, error) { return w.cmd.ErrOrStderr().Write(p) }
