package plugin

import (
	"fmt"

	"github.com/spf13/cobra"
)

// DryRunStrategy says whether and where a command only pretends to write.
// It mirrors kubectl's cmdutil.DryRunStrategy without importing
// k8s.io/kubectl/pkg/cmd/util, which would add its OpenAPI and validation
// packages to the binary and to start-up.
type DryRunStrategy int

const (
	// DryRunNone writes to the cluster.
	DryRunNone DryRunStrategy = iota
	// DryRunClient prints what would be written and contacts no cluster.
	DryRunClient
	// DryRunServer sends every write with dryRun=All.
	DryRunServer
)

func (s DryRunStrategy) String() string {
	switch s {
	case DryRunClient:
		return "client"
	case DryRunServer:
		return "server"
	default:
		return "none"
	}
}

// dryRunFlag is a pflag.Value so that a bad value is refused while flags are
// parsed, with the allowed values in the message.
type dryRunFlag struct{ strategy *DryRunStrategy }

func (f dryRunFlag) String() string { return f.strategy.String() }
func (f dryRunFlag) Type() string   { return "string" }
func (f dryRunFlag) Set(s string) error {
	switch s {
	case "none", "false":
		*f.strategy = DryRunNone
	case "client", "true":
		*f.strategy = DryRunClient
	case "server":
		*f.strategy = DryRunServer
	default:
		return fmt.Errorf("invalid dry-run value %q: must be none, client or server", s)
	}
	return nil
}

func addDryRunFlag(cmd *cobra.Command, strategy *DryRunStrategy) {
	cmd.Flags().Var(dryRunFlag{strategy}, "dry-run",
		`Must be "none", "server", or "client". If client strategy, only print the object that would be sent, without sending it. If server strategy, submit server-side request without persisting the resource.`)
	// A bare --dry-run means client, as it did in kubectl before values.
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}
