// Package clientcmdfloor is the command the clientcmd variants share:
// kubectl's connection flags bound by client-go's clientcmd, and the
// dynamic client, without k8s.io/cli-runtime. Each variant adds one import
// through the work it passes in; see ../doc.go.
package clientcmdfloor

import (
	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Run executes the floor command; then, if not nil, runs after the dynamic
// client is built.
func Run(then func(*rest.Config) error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	overrides := &clientcmd.ConfigOverrides{}
	cmd := &cobra.Command{Use: "floor", Short: "start-up floor", RunE: func(*cobra.Command, []string) error {
		config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
		if err != nil {
			return err
		}
		if _, err := dynamic.NewForConfig(config); err != nil {
			return err
		}
		if then == nil {
			return nil
		}
		return then(config)
	}}
	cmd.PersistentFlags().StringVar(&rules.ExplicitPath, "kubeconfig", "", "Path to the kubeconfig file")
	clientcmd.BindOverrideFlags(overrides, cmd.PersistentFlags(), clientcmd.RecommendedConfigOverrideFlags(""))
	cmd.AddCommand(&cobra.Command{Use: "version", Run: func(*cobra.Command, []string) {}})
	_ = cmd.Execute()
}
