package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// readyPollInterval is how long a wait sleeps between rounds. Each round
// is one paged list, so a thousand tenants cost two requests a second.
const readyPollInterval = time.Second

// fewNamespaces is up to how many tenants a wait round lists namespace by
// namespace: cheaper than paging through every tenant's Kustomization on a
// large cluster to find a handful.
const fewNamespaces = 10

// validateWaitFlags checks the flags that every command which writes many
// tenants and may wait for them shares.
func validateWaitFlags(concurrency int, timeout time.Duration, wait bool, dryRun DryRunStrategy) error {
	if concurrency < 1 {
		return fmt.Errorf("invalid --concurrency %d: must be at least 1", concurrency)
	}
	if timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: must be greater than zero", timeout)
	}
	if wait && dryRun != DryRunNone {
		return fmt.Errorf("invalid --wait with --dry-run=%s: a dry run changes nothing to wait for", dryRun)
	}
	return nil
}

// verdict is what a wait makes of one tenant's Kustomization.
type verdict int

const (
	waiting verdict = iota
	succeeded
	failed
)

// judge decides whether a tenant's Kustomization is done. requestedAt is
// the reconcile request this run made ("" for none): until the controller
// has handled it (status.lastHandledReconcileAt, as the flux CLI checks),
// what the status says is about an earlier reconcile. Ready=True counts
// only for the current generation. Ready=False is a failure only once the
// controller has given up (Stalled) or finished an attempt and will retry
// (Reconciling with reason ProgressingWithRetry): a source that has not
// fetched yet also reads Ready=False, and is merely early.
func judge(ks *kustomizationSummary, requestedAt string) (verdict, string) {
	var ready, stalled, retrying bool
	readyFound := false
	message := "waiting to be reconciled"
	for _, c := range ks.Status.Conditions {
		switch c.Type {
		case "Ready":
			readyFound = true
			ready = c.Status == "True"
			if c.Message != "" {
				message = c.Message
			}
		case "Stalled":
			stalled = c.Status == "True"
		case "Reconciling":
			retrying = c.Status == "True" && c.Reason == "ProgressingWithRetry"
		}
	}
	if ks.Spec.Suspend {
		return failed, "the Kustomization is suspended; run \"kubectl tenant resume " + ks.Metadata.Namespace + "\""
	}
	if requestedAt != "" && ks.Status.LastHandledReconcileAt != requestedAt {
		return waiting, message
	}
	switch {
	case ready && ks.Status.ObservedGeneration == ks.Metadata.Generation:
		return succeeded, message
	case readyFound && !ready && (stalled || retrying):
		return failed, message
	}
	return waiting, message
}

// tenantFailure is one tenant a command could not bring to where it was
// asked: its namespace and why, in Flux's words where Flux has any.
type tenantFailure struct {
	namespace, message string
}

// reportFailures writes one line per failed tenant, in namespace order.
func reportFailures(w io.Writer, failures []tenantFailure) {
	slices.SortFunc(failures, func(a, b tenantFailure) int { return strings.Compare(a.namespace, b.namespace) })
	for _, f := range failures {
		fmt.Fprintf(w, "%s: %s\n", f.namespace, oneLine(f.message))
	}
}

// tenantsFailedError is the error of a command that ran for every tenant
// and failed for some: the failures are printed already, one per line, and
// main exits 1 with this summary.
type tenantsFailedError struct {
	failed, total int
	what          string // "not Ready", "not suspended"
}

func (e *tenantsFailedError) Error() string {
	return fmt.Sprintf("%d of %d tenants %s (the lines above say why)", e.failed, e.total, e.what)
}

// readyWait waits for tenants' Kustomizations to be Ready.
type readyWait struct {
	client    rest.Interface // JSON, errors decoded as Status
	name      string         // the tenants' Kustomization name
	chunkSize int64
	timeout   time.Duration
	interval  time.Duration
	errOut    io.Writer
}

// wait waits until every tenant in requests (namespace to the reconcile
// request made of it, or "") is Ready or failed, or the timeout passes.
// Each round reads every pending tenant in one paged list (a few per-
// namespace lists for a handful), never one poll per tenant. It returns
// the tenants that failed or were not Ready in time, with Flux's message.
func (w *readyWait) wait(ctx context.Context, requests map[string]string) ([]tenantFailure, error) {
	pending := make(map[string]string, len(requests))
	for ns, at := range requests {
		pending[ns] = at
	}
	last := map[string]string{} // the last message seen of each pending tenant
	var failures []tenantFailure
	bar := newProgress(w.errOut, "Ready", len(requests))
	defer bar.clear()
	deadline := time.Now().Add(w.timeout)
	for {
		seen := map[string]bool{}
		visit := func(ks *kustomizationSummary) {
			ns := ks.Metadata.Namespace
			requestedAt, ok := pending[ns]
			if !ok {
				return
			}
			seen[ns] = true
			v, message := judge(ks, requestedAt)
			last[ns] = message
			switch v {
			case succeeded:
				delete(pending, ns)
			case failed:
				delete(pending, ns)
				failures = append(failures, tenantFailure{ns, message})
			}
		}
		if err := w.round(ctx, pending, visit); err != nil {
			return nil, err
		}
		for ns := range pending {
			if !seen[ns] {
				last[ns] = fmt.Sprintf("Kustomization %s not found", w.name)
			}
		}
		bar.set(len(requests) - len(pending) - len(failures))
		if len(pending) == 0 {
			return failures, nil
		}
		if !time.Now().Before(deadline) {
			for ns := range pending {
				failures = append(failures, tenantFailure{ns, fmt.Sprintf("not Ready after %s: %s", w.timeout, last[ns])})
			}
			return failures, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(w.interval, time.Until(deadline))):
		}
	}
}

// round reads the pending tenants' Kustomizations once.
func (w *readyWait) round(ctx context.Context, pending map[string]string, visit func(*kustomizationSummary)) error {
	var scopes []string
	if len(pending) <= fewNamespaces {
		for ns := range pending {
			scopes = append(scopes, ns)
		}
	} else {
		scopes = []string{""}
	}
	for _, scope := range scopes {
		if err := eachItem(ctx, w.client, resourcePath(kustomizationGVR, scope), kustomizationsNamed(w.name, w.chunkSize), "Kustomizations", visit); err != nil {
			return fmt.Errorf("listing Flux Kustomizations: %w", err)
		}
	}
	return nil
}
