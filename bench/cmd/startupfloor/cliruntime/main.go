// Command cliruntime is the start-up floor with kubectl's flags: see ../doc.go.
package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

func main() {
	cmd := &cobra.Command{Use: "floor", Short: "start-up floor", Run: func(*cobra.Command, []string) {}}
	genericclioptions.NewConfigFlags(true).AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(&cobra.Command{Use: "version", Run: func(*cobra.Command, []string) {}})
	_ = cmd.Execute()
}
