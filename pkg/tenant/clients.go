// Package tenant is the tenant model: reading a tenant back from the
// cluster, field ownership and hand edits, applying and pruning its objects,
// fleet-wide patches and the Ready wait. It imports no cobra: commands build
// its inputs from flags and print what it returns.
package tenant

import (
	"io"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Clients are the API clients a command uses, made from the kubectl flags.
type Clients struct {
	Config    *rest.Config
	Dynamic   dynamic.Interface
	Metadata  metadata.Interface
	Discovery discovery.DiscoveryInterface
}

// NewClients builds clients from a REST config. Server warnings go to
// errOut once each, as kubectl prints them, instead of through klog.
// qps and burst, when not zero, replace client-go's defaults (5 and 10).
func NewClients(config *rest.Config, errOut io.Writer, qps float32, burst int) (*Clients, error) {
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
	return &Clients{Config: config, Dynamic: dyn, Metadata: md, Discovery: disco}, nil
}
