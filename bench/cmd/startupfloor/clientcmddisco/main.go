// Command clientcmddisco is the clientcmd variant plus client-go's
// discovery client (which imports client-go/kubernetes/scheme); see ../doc.go.
package main

import (
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/kubectl-tenant/kubectl-tenant/bench/cmd/startupfloor/clientcmdfloor"
)

func main() {
	clientcmdfloor.Run(func(config *rest.Config) error {
		_, err := discovery.NewDiscoveryClientForConfig(config)
		return err
	})
}
