package plugin

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// validateWaitFlags checks the flags that every command which writes many
// tenants and may wait for them shares.
func validateWaitFlags(concurrency int, timeout time.Duration, wait bool, dryRun tenant.DryRunStrategy) error {
	if concurrency < 1 {
		return fmt.Errorf("invalid --concurrency %d: must be at least 1", concurrency)
	}
	if timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: must be greater than zero", timeout)
	}
	if wait && dryRun != tenant.DryRunNone {
		return fmt.Errorf("invalid --wait with --dry-run=%s: a dry run changes nothing to wait for", dryRun)
	}
	return nil
}

// reportFailures writes one line per failed tenant, in namespace order.
func reportFailures(w io.Writer, failures []tenant.Failure) {
	slices.SortFunc(failures, func(a, b tenant.Failure) int { return strings.Compare(a.Namespace, b.Namespace) })
	for _, f := range failures {
		fmt.Fprintf(w, "%s: %s\n", f.Namespace, tenant.OneLine(f.Message))
	}
}
