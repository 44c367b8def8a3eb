package tenant

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// Operation is what suspend, resume and reconcile each do to a tenant's
// Kustomization.
type Operation struct {
	// Suspend is the spec.suspend to apply, or nil to leave it alone.
	Suspend *bool
	// Reconcile requests a reconcile, as `flux reconcile` does.
	Reconcile bool
}

// Fleet changes many tenants' Kustomizations at once, Concurrency at a
// time, and waits for them: the fleet-wide half of suspend, resume,
// reconcile and add --wait.
type Fleet struct {
	Clients           *Clients
	KustomizationName string
	Concurrency       int
	Timeout           time.Duration
	ChunkSize         int64
	DryRun            DryRunStrategy
}

// WaitReady waits until every patched target (patched[i] not nil) is Ready
// with the reconcile requested at requestedAt, and returns those that are
// not; progress, when set, is told how many are Ready after each round.
func (f *Fleet) WaitReady(ctx context.Context, targets []string, patched []*unstructured.Unstructured, requestedAt string, progress func(int)) ([]Failure, error) {
	requests := map[string]string{}
	for i, obj := range patched {
		if obj != nil {
			requests[targets[i]] = requestedAt
		}
	}
	client, err := RawClient(f.Clients.Config)
	if err != nil {
		return nil, err
	}
	w := &ReadyWait{Client: client, Name: f.KustomizationName, ChunkSize: f.ChunkSize, Timeout: f.Timeout, Interval: ReadyPollInterval, Progress: progress}
	return w.Wait(ctx, requests)
}

// ReadKustomizations reads the selected tenants' Kustomizations, by
// namespace: one paged list, within the namespace when there is one.
func (f *Fleet) ReadKustomizations(ctx context.Context, namespaces []string) (map[string]*KustomizationSummary, error) {
	selected := make(map[string]bool, len(namespaces))
	for _, ns := range namespaces {
		selected[ns] = true
	}
	found := map[string]*KustomizationSummary{}
	err := EachKustomization(ctx, f.Clients.Config, Scope(namespaces), f.KustomizationName, f.ChunkSize, func(ks *KustomizationSummary) {
		if selected[ks.Metadata.Namespace] {
			found[ks.Metadata.Namespace] = ks
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing Flux Kustomizations: %w", err)
	}
	return found, nil
}

// PatchAll patches every target, Concurrency at a time, telling progress
// of each one done. A failed patch is that tenant's failure, not the command's:
// the others are still patched. patched holds, by index, what the server
// returned (or, for --dry-run=client, what would be sent).
func (f *Fleet) PatchAll(ctx context.Context, op Operation, targets []string, requestedAt string, progress func()) ([]*unstructured.Unstructured, []Failure) {
	patched := make([]*unstructured.Unstructured, len(targets))
	var (
		mu       sync.Mutex
		failures []Failure
	)
	_ = f.ForEach(ctx, len(targets), func(ctx context.Context, i int) error {
		obj, err := f.Patch(ctx, op, targets[i], requestedAt)
		if err != nil {
			mu.Lock()
			failures = append(failures, Failure{targets[i], err.Error()})
			mu.Unlock()
		}
		patched[i] = obj
		if progress != nil {
			progress()
		}
		return nil
	})
	return patched, failures
}

// Intent is the change made to a tenant's Kustomization, as one object:
// the apply patch of suspend and resume, and what --dry-run=client prints.
func (f *Fleet) Intent(op Operation, namespace, requestedAt string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(kustomizev1.GroupVersion.String())
	obj.SetKind(kustomizev1.KustomizationKind)
	obj.SetNamespace(namespace)
	obj.SetName(f.KustomizationName)
	if op.Suspend != nil {
		_ = unstructured.SetNestedField(obj.Object, *op.Suspend, "spec", "suspend")
	}
	if op.Reconcile {
		obj.SetAnnotations(map[string]string{meta.ReconcileRequestAnnotation: requestedAt})
	}
	return obj
}

// Patch makes one tenant's change in one request: spec.suspend (with
// resume's reconcile request) by server-side apply, or reconcile's request
// alone as a merge patch.
//
// Resume applies the request with spec.suspend: half the requests of two
// patches, which at a thousand tenants is what the 2-core API server's time
// goes on. The suspend field manager then owns that annotation too, so the
// next suspend, which applies spec.suspend alone, removes it: it is a past
// request that Flux has handled, and Flux ignores its removal.
func (f *Fleet) Patch(ctx context.Context, op Operation, namespace, requestedAt string) (*unstructured.Unstructured, error) {
	intent := f.Intent(op, namespace, requestedAt)
	if f.DryRun == DryRunClient {
		return intent, nil
	}
	var dryRun []string
	if f.DryRun == DryRunServer {
		dryRun = []string{metav1.DryRunAll}
	}
	resource := f.Clients.Dynamic.Resource(KustomizationGVR).Namespace(namespace)
	if op.Suspend == nil {
		return requestReconcile(ctx, resource, f.KustomizationName, requestedAt, dryRun)
	}
	// Force: suspending and resuming are an operator's decisions, and
	// "flux suspend" (a merge patch) overrides whoever set the field
	// before just the same.
	result, err := resource.Apply(ctx, f.KustomizationName, intent, metav1.ApplyOptions{FieldManager: SuspendFieldManager, Force: true, DryRun: dryRun})
	if err != nil {
		return nil, fmt.Errorf("applying spec.suspend: %w", err)
	}
	return result, nil
}

// patcher is the part of a dynamic resource client a reconcile request
// needs.
type patcher interface {
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, options metav1.PatchOptions, subresources ...string) (*unstructured.Unstructured, error)
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt as the flux CLI
// does, with a merge patch: the request is a moment's value that anyone
// may overwrite, not a field to own, and a merge patch of a missing
// object fails rather than creating it.
func requestReconcile(ctx context.Context, resource patcher, name, requestedAt string, dryRun []string) (*unstructured.Unstructured, error) {
	body := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, requestedAt)
	result, err := resource.Patch(ctx, name, types.MergePatchType, []byte(body), metav1.PatchOptions{FieldManager: ReconcileFieldManager, DryRun: dryRun})
	if err != nil {
		return nil, fmt.Errorf("requesting a reconcile: %w", err)
	}
	return result, nil
}

// SourceKey names a Flux source.
type SourceKey struct{ Kind, Namespace, Name string }

// RequestSources asks each source the targets build from (each once,
// however many tenants share it) to fetch now, and returns the sources and
// what the server returned of each (for DryRunClient, what would be sent).
func (f *Fleet) RequestSources(ctx context.Context, targets []string, found map[string]*KustomizationSummary, requestedAt string) ([]SourceKey, []*unstructured.Unstructured, error) {
	var sources []SourceKey
	for _, ns := range targets {
		ref := found[ns].Spec.SourceRef
		key := SourceKey{ref.Kind, ref.Namespace, ref.Name}
		if key.Namespace == "" {
			key.Namespace = ns
		}
		if !slices.Contains(sources, key) {
			sources = append(sources, key)
		}
	}
	var dryRun []string
	if f.DryRun == DryRunServer {
		dryRun = []string{metav1.DryRunAll}
	}
	// A thousand confined tenants have a thousand sources: they are asked
	// as the tenants are patched, --concurrency at a time.
	requested := make([]*unstructured.Unstructured, len(sources))
	err := f.ForEach(ctx, len(sources), func(ctx context.Context, i int) error {
		s := sources[i]
		if f.DryRun == DryRunClient {
			obj := &unstructured.Unstructured{}
			obj.SetAPIVersion(SourceGroupVersion.String())
			obj.SetKind(s.Kind)
			obj.SetNamespace(s.Namespace)
			obj.SetName(s.Name)
			obj.SetAnnotations(map[string]string{meta.ReconcileRequestAnnotation: requestedAt})
			requested[i] = obj
			return nil
		}
		resource := f.Clients.Dynamic.Resource(SourceResource(s.Kind)).Namespace(s.Namespace)
		obj, err := requestReconcile(ctx, resource, s.Name, requestedAt, dryRun)
		if err != nil {
			return fmt.Errorf("%s %s/%s: %w", s.Kind, s.Namespace, s.Name, err)
		}
		requested[i] = obj
		return nil
	})
	return sources, requested, err
}

// ForEach runs do for 0..n-1, Concurrency at a time, and returns the
// first error; after one, no more are started.
func (f *Fleet) ForEach(ctx context.Context, n int, do func(context.Context, int) error) error {
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(f.Concurrency)
	for i := range n {
		if groupCtx.Err() != nil {
			break
		}
		group.Go(func() error { return do(groupCtx, i) })
	}
	return group.Wait()
}

// WaitSourcesHandled polls each source until it has handled requestedAt,
// one GET each per round, --concurrency at a time: sources are one shared
// one, or one per confined tenant, in a namespace of their own, which no
// one list with a field selector finds.
func (f *Fleet) WaitSourcesHandled(ctx context.Context, sources []SourceKey, requestedAt string, warnings io.Writer) error {
	deadline := time.Now().Add(f.Timeout)
	pending := slices.Clone(sources)
	for {
		handled := make([]bool, len(pending))
		var mu sync.Mutex // serialises the warnings
		err := f.ForEach(ctx, len(pending), func(ctx context.Context, i int) error {
			s := pending[i]
			live, err := f.Clients.Dynamic.Resource(SourceResource(s.Kind)).Namespace(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("reading %s %s/%s: %w", s.Kind, s.Namespace, s.Name, err)
			}
			if at, _, _ := unstructured.NestedString(live.Object, "status", "lastHandledReconcileAt"); at != requestedAt {
				return nil
			}
			handled[i] = true
			if ready, message := ReadyCondition(live); !ready {
				mu.Lock()
				fmt.Fprintf(warnings, "Warning: %s %s/%s is not Ready: %s\n", s.Kind, s.Namespace, s.Name, OneLine(message))
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return err
		}
		var next []SourceKey
		for i, s := range pending {
			if !handled[i] {
				next = append(next, s)
			}
		}
		if pending = next; len(pending) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			s := pending[0]
			return fmt.Errorf("%s %s/%s did not fetch within --timeout %s: is source-controller running?", s.Kind, s.Namespace, s.Name, f.Timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sourceReadyPollInterval):
		}
	}
}
