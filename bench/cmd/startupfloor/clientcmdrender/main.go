// Command clientcmdrender is the clientcmd variant plus the plugin's own
// pkg/render (Flux's API types and manifestgen, which pulls in kustomize):
// the floor if cli-runtime and discovery were gone; see ../doc.go.
package main

import (
	"k8s.io/client-go/rest"

	"github.com/kubectl-tenant/kubectl-tenant/bench/cmd/startupfloor/clientcmdfloor"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

func main() {
	clientcmdfloor.Run(func(*rest.Config) error {
		_, err := render.RenderTenant(render.DefaultTenantOptions())
		return err
	})
}
