package tenant

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/client-go/rest"
)

// ReadyPollInterval is how long a wait sleeps between rounds. Each round
// is one paged list, so a thousand tenants cost two requests a second.
const ReadyPollInterval = time.Second

// fewNamespaces is up to how many tenants a wait round lists namespace by
// namespace: cheaper than paging through every tenant's Kustomization on a
// large cluster to find a handful.
const fewNamespaces = 10

// Verdict is what a wait makes of one tenant's Kustomization.
type Verdict int

const (
	Waiting Verdict = iota
	Succeeded
	Failed
)

// Judge decides whether a tenant's Kustomization is done. requestedAt is
// the reconcile request this run made ("" for none): until the controller
// has handled it (status.lastHandledReconcileAt, as the flux CLI checks),
// what the status says is about an earlier reconcile. Ready=True counts
// only for the current generation. Ready=False is a failure only once the
// controller has given up (Stalled) or finished an attempt and will retry
// (Reconciling with reason ProgressingWithRetry): a source that has not
// fetched yet also reads Ready=False, and is merely early.
func Judge(ks *KustomizationSummary, requestedAt string) (Verdict, string) {
	if ks.Spec.Suspend {
		return Failed, "the Kustomization is suspended; run \"kubectl tenant resume " + ks.Metadata.Namespace + "\""
	}
	status, message := Readiness(ks.Metadata.Generation, ks.Status.ObservedGeneration, ks.Status.Conditions)
	if message == "" {
		message = notReconciled
	}
	if requestedAt != "" && ks.Status.LastHandledReconcileAt != requestedAt {
		return Waiting, message
	}
	switch {
	case status == "True":
		return Succeeded, message
	case ks.gaveUp():
		return Failed, message
	}
	return Waiting, message
}

// gaveUp reports whether the controller finished an attempt that failed:
// Ready is False and it has stalled, or will retry (Reconciling with
// reason ProgressingWithRetry). A source that has not fetched yet also
// reads Ready=False, and is merely early.
func (ks *KustomizationSummary) gaveUp() bool {
	var notReady, stalled, retrying bool
	for _, c := range ks.Status.Conditions {
		switch c.Type {
		case "Ready":
			notReady = c.Status == "False"
		case "Stalled":
			stalled = c.Status == "True"
		case "Reconciling":
			retrying = c.Status == "True" && c.Reason == "ProgressingWithRetry"
		}
	}
	return notReady && (stalled || retrying)
}

// Failure is one tenant a command could not bring to where it was
// asked: its namespace and why, in Flux's words where Flux has any.
type Failure struct {
	Namespace, Message string
}

// FailedError is the error of a command that ran for every tenant
// and failed for some: the failures are printed already, one per line, and
// main exits 1 with this summary.
type FailedError struct {
	Failed, Total int
	What          string // "not Ready", "not suspended"
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%d of %d tenants %s (the lines above say why)", e.Failed, e.Total, e.What)
}

// ReadyWait waits for tenants' Kustomizations to be Ready.
type ReadyWait struct {
	Client    rest.Interface // JSON, errors decoded as Status
	Name      string         // the tenants' Kustomization name
	ChunkSize int64
	Timeout   time.Duration
	Interval  time.Duration
	// Progress, when set, is told after each round how many are Ready.
	Progress func(ready int)
}

// Wait waits until every tenant in requests (namespace to the reconcile
// request made of it, or "") is Ready or failed, or the timeout passes.
// Each round reads every pending tenant in one paged list (a few per-
// namespace lists for a handful), never one poll per tenant. It returns
// the tenants that failed or were not Ready in time, with Flux's message.
func (w *ReadyWait) Wait(ctx context.Context, requests map[string]string) ([]Failure, error) {
	pending := make(map[string]string, len(requests))
	for ns, at := range requests {
		pending[ns] = at
	}
	last := map[string]string{} // the last message seen of each pending tenant
	var failures []Failure
	deadline := time.Now().Add(w.Timeout)
	for {
		seen := map[string]bool{}
		visit := func(ks *KustomizationSummary) {
			ns := ks.Metadata.Namespace
			requestedAt, ok := pending[ns]
			if !ok {
				return
			}
			seen[ns] = true
			v, message := Judge(ks, requestedAt)
			last[ns] = message
			switch v {
			case Succeeded:
				delete(pending, ns)
			case Failed:
				delete(pending, ns)
				failures = append(failures, Failure{ns, message})
			}
		}
		if err := w.round(ctx, pending, visit); err != nil {
			return nil, err
		}
		for ns := range pending {
			if !seen[ns] {
				last[ns] = fmt.Sprintf("Kustomization %s not found", w.Name)
			}
		}
		if w.Progress != nil {
			w.Progress(len(requests) - len(pending) - len(failures))
		}
		if len(pending) == 0 {
			return failures, nil
		}
		if !time.Now().Before(deadline) {
			for ns := range pending {
				failures = append(failures, Failure{ns, fmt.Sprintf("not Ready after %s: %s", w.Timeout, last[ns])})
			}
			return failures, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(w.Interval, time.Until(deadline))):
		}
	}
}

// round reads the pending tenants' Kustomizations once.
func (w *ReadyWait) round(ctx context.Context, pending map[string]string, visit func(*KustomizationSummary)) error {
	var scopes []string
	if len(pending) <= fewNamespaces {
		for ns := range pending {
			scopes = append(scopes, ns)
		}
	} else {
		scopes = []string{""}
	}
	for _, scope := range scopes {
		if err := EachItem(ctx, w.Client, ResourcePath(KustomizationGVR, scope), KustomizationsNamed(w.Name, w.ChunkSize), "Kustomizations", visit); err != nil {
			return fmt.Errorf("listing Flux Kustomizations: %w", err)
		}
	}
	return nil
}

// OneLine joins a multi-line message (an API error, a Flux condition) into
// one line, for tables and one-line reports.
func OneLine(s string) string {
	// Most cells are one line already: a table of ten thousand rows would
	// copy every one of them to learn that.
	if isOneLine(s) {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// isOneLine reports whether OneLine would return s unchanged: ASCII words
// separated by single spaces. Anything else (other white space, non-ASCII,
// which Fields may split on) takes the long way.
func isOneLine(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return false
		case c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' '):
			return false
		}
	}
	return true
}
