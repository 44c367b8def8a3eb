// Command clientcmddisco is the clientcmd variant plus client-go's
// discovery client (which imports client-go/kubernetes/scheme); see ../doc.go.
package main

import (
	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	overrides := &clientcmd.ConfigOverrides{}
	cmd := &cobra.Command{Use: "floor", Short: "start-up floor", RunE: func(*cobra.Command, []string) error {
		config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
		if err != nil {
			return err
		}
		if _, err = dynamic.NewForConfig(config); err != nil {
			return err
		}
		_, err = discovery.NewDiscoveryClientForConfig(config)
		return err
	}}
	cmd.PersistentFlags().StringVar(&rules.ExplicitPath, "kubeconfig", "", "Path to the kubeconfig file")
	clientcmd.BindOverrideFlags(overrides, cmd.PersistentFlags(), clientcmd.RecommendedConfigOverrideFlags(""))
	cmd.AddCommand(&cobra.Command{Use: "version", Run: func(*cobra.Command, []string) {}})
	_ = cmd.Execute()
}
