package plugin

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// dryRunFlag is a pflag.Value so that a bad value is refused while flags are
// parsed, with the allowed values in the message.
type dryRunFlag struct{ strategy *tenant.DryRunStrategy }

func (f dryRunFlag) String() string { return f.strategy.String() }
func (f dryRunFlag) Type() string   { return "string" }
func (f dryRunFlag) Set(s string) error {
	switch s {
	case "none", "false":
		*f.strategy = tenant.DryRunNone
	case "client", "true":
		*f.strategy = tenant.DryRunClient
	case "server":
		*f.strategy = tenant.DryRunServer
	default:
		return fmt.Errorf("invalid dry-run value %q: must be none, client or server", s)
	}
	return nil
}

func addDryRunFlag(cmd *cobra.Command, strategy *tenant.DryRunStrategy) {
	cmd.Flags().Var(dryRunFlag{strategy}, "dry-run",
		`Must be "none", "server", or "client". If client strategy, only print the object that would be sent, without sending it. If server strategy, submit server-side request without persisting the resource.`)
	// A bare --dry-run means client, as it did in kubectl before values.
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}
