package plugin

import (
	"fmt"
	"io"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// clients are the API clients a command uses, made from the kubectl flags.
type clients struct {
	config    *rest.Config
	dynamic   dynamic.Interface
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
}

// newClients builds clients from --kubeconfig, --context and the other
// kubectl flags. Server warnings go to errOut once each, as kubectl prints
// them, instead of through klog.
// qps and burst, when not zero, replace client-go's defaults (5 and 10).
func newClients(flags *genericclioptions.ConfigFlags, errOut io.Writer, qps float32, burst int) (*clients, error) {
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
	config = rest.CopyConfig(config)
	if qps > 0 {
		config.QPS, config.Burst = qps, burst
	}
	config.WarningHandler = rest.NewWarningWriter(errOut, rest.WarningWriterOptions{Deduplicate: true})
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	md, err := metadata.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, err
	}
	return &clients{config: config, dynamic: dyn, metadata: md, discovery: disco}, nil
}
