// Command clientcmdrender is the clientcmd variant plus the plugin's own
// pkg/render (Flux's API types and manifestgen, which pulls in kustomize):
// the floor if cli-runtime and discovery were gone; see ../doc.go.
package main

import (
	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
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
		_, err = render.RenderTenant(render.DefaultTenantOptions())
		return err
	}}
	cmd.PersistentFlags().StringVar(&rules.ExplicitPath, "kubeconfig", "", "Path to the kubeconfig file")
	clientcmd.BindOverrideFlags(overrides, cmd.PersistentFlags(), clientcmd.RecommendedConfigOverrideFlags(""))
	cmd.AddCommand(&cobra.Command{Use: "version", Run: func(*cobra.Command, []string) {}})
	_ = cmd.Execute()
}
