// Command clientgo is the start-up floor with kubectl's flags and the
// client-go clients the plugin uses: see ../doc.go.
package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

func main() {
	flags := genericclioptions.NewConfigFlags(true)
	cmd := &cobra.Command{Use: "floor", Short: "start-up floor", RunE: func(*cobra.Command, []string) error {
		config, err := flags.ToRESTConfig()
		if err != nil {
			return err
		}
		if _, err := dynamic.NewForConfig(config); err != nil {
			return err
		}
		_, err = discovery.NewDiscoveryClientForConfig(rest.CopyConfig(config))
		return err
	}}
	flags.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(&cobra.Command{Use: "version", Run: func(*cobra.Command, []string) {}})
	_ = cmd.Execute()
}
