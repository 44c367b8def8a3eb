package plugin

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdVersion builds `kubectl tenant version`.
func NewCmdVersion(streams genericiooptions.IOStreams, build BuildInfo) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := build.withModuleVersion()
			_, err := fmt.Fprintf(streams.Out, "kubectl-tenant %s (commit %s, built %s)\n", info.Version, info.Commit, info.Date)
			return err
		},
	}
}

// withModuleVersion fills in what the linker did not stamp: `go install
// module@version` records the module version in the binary instead.
func (b BuildInfo) withModuleVersion() BuildInfo {
	if b.Version == "" {
		b.Version = "dev"
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}
