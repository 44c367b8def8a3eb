package plugin

import (
	"fmt"
	"io"

	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// concurrentRate is the client rate for workers requests at once: a few
// requests a tenant each, so that client-go's default 5 QPS does not make
// a thousand tenants minutes of waiting on ourselves.
func concurrentRate(workers int) (qps float32, burst int) {
	qps = float32(25 * workers)
	return qps, 2 * int(qps)
}

// newClients builds the tenant model's clients from --kubeconfig,
// --context and the other kubectl flags; qps and burst, when not zero,
// replace client-go's defaults.
func newClients(flags *genericclioptions.ConfigFlags, errOut io.Writer, qps float32, burst int) (*tenant.Clients, error) {
	// With no kubeconfig at all, client-go falls back to localhost:8080,
	// which fails later with a confusing "connection refused".
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	if len(raw.Clusters) == 0 && (flags.APIServer == nil || *flags.APIServer == "") {
		return nil, fmt.Errorf("no cluster configured: no kubeconfig found (set --kubeconfig or KUBECONFIG, or create ~/.kube/config)")
	}
	config, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	return tenant.NewClients(config, errOut, qps, burst)
}
