package plugin

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// The field managers of suspend, resume and reconcile. They are not
// FieldManager on purpose: server-side apply removes a field that its
// manager stops applying, so if "kubectl-tenant" applied spec.suspend, the
// next `add` of the tenant (whose render has no spec.suspend) would drop
// it and silently resume a suspended tenant. A manager of its own that owns
// spec.suspend alone keeps a suspension until resume, whatever add does.
const (
	// SuspendFieldManager owns spec.suspend of the tenants' Kustomizations.
	SuspendFieldManager = "kubectl-tenant-suspend"
	// ReconcileFieldManager writes the reconcile.fluxcd.io/requestedAt
	// annotation, as a merge patch like the flux CLI's.
	ReconcileFieldManager = "kubectl-tenant-reconcile"
)

// operation is what suspend, resume and reconcile each do to a tenant's
// Kustomization.
type operation struct {
	verb    string // the command
	done    string // what the name printer says of each object
	summary string // the closing line; %s is the count of tenants
	// suspend is the spec.suspend to apply, or nil to leave it alone.
	suspend *bool
	// reconcile requests a reconcile, as `flux reconcile` does.
	reconcile                   bool
	short, long, example, label string
}

func suspendOperation() operation {
	suspend := true
	return operation{
		verb: "suspend", done: "suspended", summary: "suspended %s", suspend: &suspend, label: "Suspended",
		short: "Suspend tenants' Flux Kustomizations: Flux stops applying their template",
		long: `Suspend the selected tenants' Flux Kustomizations (spec.suspend: true, as "flux suspend ks"
does): Flux starts no new reconcile of them, so commits to the template are not applied to
them until "kubectl tenant resume". Nothing in the tenants' namespaces changes.

spec.suspend is server-side applied by the field manager ` + SuspendFieldManager + `,
which owns that field alone, so re-running "kubectl tenant add" keeps a tenant suspended.
With --wait the command returns once every Kustomization is stored as suspended (a
reconcile Flux had already started finishes).`,
		example: `  # Suspend one tenant
  kubectl tenant suspend foo

  # Suspend every tenant of a team, and show what would change first
  kubectl tenant suspend -l team=payments --dry-run=server

  # Suspend every tenant (no confirmation, as kubectl)
  kubectl tenant suspend --all`,
	}
}

func resumeOperation() operation {
	resume := false
	return operation{
		verb: "resume", done: "resumed", summary: "resumed %s", suspend: &resume, reconcile: true, label: "Resumed",
		short: "Resume tenants' Flux Kustomizations and request a reconcile of each",
		long: `Resume the selected tenants' Flux Kustomizations (spec.suspend: false, by the field manager
` + SuspendFieldManager + `) and request a reconcile of each, as "flux resume ks" does, so that
what was committed meanwhile is applied now rather than at the next interval.

With --wait the command waits until every tenant is Ready with the reconcile it requested,
shows "Ready N/M" on a terminal, and prints one line per tenant that is not, with Flux's
message; the exit code is then 1.`,
		example: `  # Resume a tenant and wait until Flux has applied it
  kubectl tenant resume foo --wait

  # Resume every tenant, fetching the template first, and wait up to 10 minutes
  kubectl tenant resume --all --with-source --wait --timeout 10m`,
	}
}

func reconcileOperation() operation {
	return operation{
		verb: "reconcile", done: "reconcile requested", summary: "requested a reconcile of %s", reconcile: true, label: "Requested",
		short: "Ask Flux to reconcile tenants' Kustomizations now",
		long: `Ask Flux to reconcile the selected tenants' Kustomizations now instead of at their next
interval: the reconcile.fluxcd.io/requestedAt annotation is set, as "flux reconcile ks"
does (field manager ` + ReconcileFieldManager + `). --with-source asks each tenant's source
to fetch first and waits until it has, so that the reconcile applies the newest commit.

With --wait the command waits until every tenant is Ready with this reconcile, as resume
--wait does. A suspended tenant is not reconciled, and --wait reports it.`,
		example: `  # Apply the template's newest commit to one tenant now
  kubectl tenant reconcile foo --with-source --wait

  # Reconcile every tenant of a team
  kubectl tenant reconcile -l team=payments`,
	}
}

// OperateOptions are the inputs of suspend, resume and reconcile.
type OperateOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	op                operation
	Selection         *tenantSelection
	KustomizationName string
	Concurrency       int
	Wait              bool
	Timeout           time.Duration
	WithSource        bool
	DryRun            DryRunStrategy

	output *output
}

// NewCmdSuspend builds `kubectl tenant suspend`.
func NewCmdSuspend(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdOperate(configFlags, streams, suspendOperation())
}

// NewCmdResume builds `kubectl tenant resume`.
func NewCmdResume(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdOperate(configFlags, streams, resumeOperation())
}

// NewCmdReconcile builds `kubectl tenant reconcile`.
func NewCmdReconcile(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdOperate(configFlags, streams, reconcileOperation())
}

func newCmdOperate(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, op operation) *cobra.Command {
	o := &OperateOptions{
		configFlags:       configFlags,
		outputFlags:       newObjectOutputFlags(op.done),
		IOStreams:         streams,
		op:                op,
		Selection:         newTenantSelection(false),
		KustomizationName: render.DefaultKustomizationName,
		Concurrency:       32,
		Timeout:           5 * time.Minute,
	}
	cmd := &cobra.Command{
		Use:     op.verb + " [NAMESPACE...] [--tenant-name NAME] [-l SELECTOR] [--all]",
		Short:   op.short,
		Long:    op.long,
		Example: op.example,
		RunE:    runCommand(o),
	}
	o.Selection.addFlags(cmd, configFlags)
	f := cmd.Flags()
	f.StringVar(&o.KustomizationName, "kustomization-name", o.KustomizationName, "Name of the tenants' Flux Kustomization")
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "How many tenants are patched at once")
	waitUsage := "Wait until every tenant is Ready with the reconcile requested"
	if !op.reconcile {
		waitUsage = "Wait until every Kustomization is stored as suspended"
	}
	f.BoolVar(&o.Wait, "wait", false, waitUsage)
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait (and --with-source) waits")
	if op.reconcile {
		f.BoolVar(&o.WithSource, "with-source", false, "Ask each tenant's source to fetch first, and wait until it has")
	}
	addDryRunFlag(cmd, &o.DryRun)
	o.outputFlags.addFlags(cmd)
	return cmd
}

// Complete takes tenant namespaces as arguments and builds the printer.
func (o *OperateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.complete(args)
	var err error
	o.output, err = o.outputFlags.toOutput(o.DryRun)
	return err
}

// Validate checks the selection and the flags.
func (o *OperateOptions) Validate() error {
	if err := validateKustomizationName(o.KustomizationName); err != nil {
		return err
	}
	if err := validateWaitFlags(o.Concurrency, o.Timeout, o.Wait, o.DryRun); err != nil {
		return err
	}
	return o.Selection.validate()
}

// Run reads the selection and the tenants' Kustomizations, so that bad
// input is refused before anything is written; then patches every tenant,
// --concurrency at a time, and with --wait waits for them all in one
// list per round.
func (o *OperateOptions) Run(ctx context.Context) error {
	// A thousand tenants are a thousand patches; at client-go's default
	// 5 QPS that would be minutes of throttling.
	qps := float32(25 * o.Concurrency)
	c, err := newClients(o.configFlags, o.ErrOut, qps, 2*int(qps))
	if err != nil {
		return err
	}
	var namespaces []string
	err = o.Selection.each(ctx, c, func(ns *metav1.PartialObjectMetadata) error {
		namespaces = append(namespaces, ns.Name)
		return nil
	})
	if err != nil {
		return err
	}
	if len(namespaces) == 0 {
		fmt.Fprintln(o.ErrOut, "No tenants selected.")
		return nil
	}
	if err := requireFlux(c); err != nil {
		return err
	}
	found, err := o.readKustomizations(ctx, c, namespaces)
	if err != nil {
		return err
	}
	var failures []tenantFailure
	var targets []string
	for _, ns := range namespaces {
		if found[ns] == nil {
			failures = append(failures, tenantFailure{ns, fmt.Sprintf("Kustomization %s not found", o.KustomizationName)})
			continue
		}
		targets = append(targets, ns)
	}

	requestedAt := time.Now().Format(time.RFC3339Nano)
	if o.WithSource {
		if err := o.reconcileSources(ctx, c, targets, found, requestedAt); err != nil {
			return err
		}
	}
	patched, patchFailures := o.patchAll(ctx, c, targets, requestedAt)
	failures = append(failures, patchFailures...)
	for i, obj := range patched {
		if obj != nil {
			if err := o.output.printIn(o.Out, targets[i], obj); err != nil {
				return err
			}
		}
	}
	if o.output.human() {
		fmt.Fprintln(o.Out, fmt.Sprintf(o.op.summary, countTenants(len(targets)-len(patchFailures)))+dryRunSuffix(o.DryRun))
	}

	what := "failed"
	if o.Wait && o.op.reconcile && o.DryRun == DryRunNone {
		notReady, err := o.waitReady(ctx, c, targets, patched, requestedAt)
		if err != nil {
			return err
		}
		failures = append(failures, notReady...)
		what = "not Ready"
	}
	if len(failures) > 0 {
		reportFailures(o.ErrOut, failures)
		return &tenantsFailedError{failed: len(failures), total: len(namespaces), what: what}
	}
	return nil
}

// countTenants is "1 tenant" or "N tenants".
func countTenants(n int) string {
	if n == 1 {
		return "1 tenant"
	}
	return fmt.Sprintf("%d tenants", n)
}

// waitReady waits until every tenant that was patched is Ready with the
// reconcile requested at requestedAt, and returns those that are not.
func (o *OperateOptions) waitReady(ctx context.Context, c *clients, targets []string, patched []*unstructured.Unstructured, requestedAt string) ([]tenantFailure, error) {
	requests := map[string]string{}
	for i, obj := range patched {
		if obj != nil {
			requests[targets[i]] = requestedAt
		}
	}
	client, err := rawClient(c.config)
	if err != nil {
		return nil, err
	}
	w := &readyWait{client: client, name: o.KustomizationName, chunkSize: o.Selection.ChunkSize, timeout: o.Timeout, interval: readyPollInterval, errOut: o.ErrOut}
	notReady, err := w.wait(ctx, requests)
	if err != nil {
		return nil, err
	}
	if len(notReady) == 0 && o.output.human() {
		fmt.Fprintf(o.Out, "%d of %d tenants Ready\n", len(requests), len(requests))
	}
	return notReady, nil
}

// readKustomizations reads the selected tenants' Kustomizations, by
// namespace: one paged list, within the namespace when there is one.
func (o *OperateOptions) readKustomizations(ctx context.Context, c *clients, namespaces []string) (map[string]*kustomizationSummary, error) {
	selected := make(map[string]bool, len(namespaces))
	for _, ns := range namespaces {
		selected[ns] = true
	}
	scope := ""
	if len(namespaces) == 1 {
		scope = namespaces[0]
	}
	found := map[string]*kustomizationSummary{}
	err := eachKustomization(ctx, c.config, scope, o.KustomizationName, o.Selection.ChunkSize, func(ks *kustomizationSummary) {
		if selected[ks.Metadata.Namespace] {
			found[ks.Metadata.Namespace] = ks
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing Flux Kustomizations: %w", err)
	}
	return found, nil
}

// patchAll patches every target, --concurrency at a time, counting on a
// terminal. A failed patch is that tenant's failure, not the command's:
// the others are still patched. patched holds, by index, what the server
// returned (or, for --dry-run=client, what would be sent).
func (o *OperateOptions) patchAll(ctx context.Context, c *clients, targets []string, requestedAt string) ([]*unstructured.Unstructured, []tenantFailure) {
	patched := make([]*unstructured.Unstructured, len(targets))
	var (
		mu       sync.Mutex
		failures []tenantFailure
	)
	bar := newProgress(o.ErrOut, o.op.label, len(targets))
	defer bar.clear()
	_ = o.forEach(ctx, len(targets), func(ctx context.Context, i int) error {
		obj, err := o.patch(ctx, c, targets[i], requestedAt)
		if err != nil {
			mu.Lock()
			failures = append(failures, tenantFailure{targets[i], err.Error()})
			mu.Unlock()
		}
		patched[i] = obj
		bar.add(1)
		return nil
	})
	return patched, failures
}

// intent is the change made to a tenant's Kustomization, as one object:
// the apply patch of suspend and resume, and what --dry-run=client prints.
func (o *OperateOptions) intent(namespace, requestedAt string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(kustomizev1.GroupVersion.String())
	obj.SetKind(kustomizev1.KustomizationKind)
	obj.SetNamespace(namespace)
	obj.SetName(o.KustomizationName)
	if o.op.suspend != nil {
		_ = unstructured.SetNestedField(obj.Object, *o.op.suspend, "spec", "suspend")
	}
	if o.op.reconcile {
		obj.SetAnnotations(map[string]string{meta.ReconcileRequestAnnotation: requestedAt})
	}
	return obj
}

// patch makes one tenant's change in one request: spec.suspend (with
// resume's reconcile request) by server-side apply, or reconcile's request
// alone as a merge patch.
//
// Resume applies the request with spec.suspend: half the requests of two
// patches, which at a thousand tenants is what the 2-core API server's time
// goes on. The suspend field manager then owns that annotation too, so the
// next suspend, which applies spec.suspend alone, removes it: it is a past
// request that Flux has handled, and Flux ignores its removal.
func (o *OperateOptions) patch(ctx context.Context, c *clients, namespace, requestedAt string) (*unstructured.Unstructured, error) {
	intent := o.intent(namespace, requestedAt)
	if o.DryRun == DryRunClient {
		return intent, nil
	}
	var dryRun []string
	if o.DryRun == DryRunServer {
		dryRun = []string{metav1.DryRunAll}
	}
	resource := c.dynamic.Resource(kustomizationGVR).Namespace(namespace)
	if o.op.suspend == nil {
		return requestReconcile(ctx, resource, o.KustomizationName, requestedAt, dryRun)
	}
	// Force: suspending and resuming are an operator's decisions, and
	// "flux suspend" (a merge patch) overrides whoever set the field
	// before just the same.
	result, err := resource.Apply(ctx, o.KustomizationName, intent, metav1.ApplyOptions{FieldManager: SuspendFieldManager, Force: true, DryRun: dryRun})
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

// sourceKey names a Flux source.
type sourceKey struct{ kind, namespace, name string }

// reconcileSources asks each source the targets build from (each once,
// however many tenants share it) to fetch now, and, unless this is a dry
// run, waits until each has handled the request, so that the tenants'
// reconcile that follows builds from the newest commit. A source that
// fetched but is not Ready is a warning: its tenants then report Flux's
// message themselves.
func (o *OperateOptions) reconcileSources(ctx context.Context, c *clients, targets []string, found map[string]*kustomizationSummary, requestedAt string) error {
	var sources []sourceKey
	for _, ns := range targets {
		ref := found[ns].Spec.SourceRef
		key := sourceKey{ref.Kind, ref.Namespace, ref.Name}
		if key.namespace == "" {
			key.namespace = ns
		}
		if !slices.Contains(sources, key) {
			sources = append(sources, key)
		}
	}
	var dryRun []string
	if o.DryRun == DryRunServer {
		dryRun = []string{metav1.DryRunAll}
	}
	// A thousand confined tenants have a thousand sources: they are asked
	// as the tenants are patched, --concurrency at a time.
	requested := make([]*unstructured.Unstructured, len(sources))
	err := o.forEach(ctx, len(sources), func(ctx context.Context, i int) error {
		s := sources[i]
		if o.DryRun == DryRunClient {
			obj := &unstructured.Unstructured{}
			obj.SetAPIVersion(sourceGroupVersion.String())
			obj.SetKind(s.kind)
			obj.SetNamespace(s.namespace)
			obj.SetName(s.name)
			obj.SetAnnotations(map[string]string{meta.ReconcileRequestAnnotation: requestedAt})
			requested[i] = obj
			return nil
		}
		resource := c.dynamic.Resource(sourceResource(s.kind)).Namespace(s.namespace)
		obj, err := requestReconcile(ctx, resource, s.name, requestedAt, dryRun)
		if err != nil {
			return fmt.Errorf("%s %s/%s: %w", s.kind, s.namespace, s.name, err)
		}
		requested[i] = obj
		return nil
	})
	if err != nil {
		return err
	}
	for i, obj := range requested {
		if err := o.output.printIn(o.Out, sources[i].namespace, obj); err != nil {
			return err
		}
	}
	if o.DryRun != DryRunNone {
		return nil
	}
	return o.waitSourcesHandled(ctx, c, sources, requestedAt)
}

// forEach runs do for 0..n-1, --concurrency at a time, and returns the
// first error; after one, no more are started.
func (o *OperateOptions) forEach(ctx context.Context, n int, do func(context.Context, int) error) error {
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(o.Concurrency)
	for i := range n {
		if groupCtx.Err() != nil {
			break
		}
		group.Go(func() error { return do(groupCtx, i) })
	}
	return group.Wait()
}

// waitSourcesHandled polls each source until it has handled requestedAt,
// one GET each per round, --concurrency at a time: sources are one shared
// one, or one per confined tenant, in a namespace of their own, which no
// one list with a field selector finds.
func (o *OperateOptions) waitSourcesHandled(ctx context.Context, c *clients, sources []sourceKey, requestedAt string) error {
	deadline := time.Now().Add(o.Timeout)
	pending := slices.Clone(sources)
	for {
		handled := make([]bool, len(pending))
		var mu sync.Mutex // serialises the warnings
		err := o.forEach(ctx, len(pending), func(ctx context.Context, i int) error {
			s := pending[i]
			live, err := c.dynamic.Resource(sourceResource(s.kind)).Namespace(s.namespace).Get(ctx, s.name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("reading %s %s/%s: %w", s.kind, s.namespace, s.name, err)
			}
			if at, _, _ := unstructured.NestedString(live.Object, "status", "lastHandledReconcileAt"); at != requestedAt {
				return nil
			}
			handled[i] = true
			if ready, message := readyCondition(live); !ready {
				mu.Lock()
				fmt.Fprintf(o.ErrOut, "Warning: %s %s/%s is not Ready: %s\n", s.kind, s.namespace, s.name, oneLine(message))
				mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return err
		}
		var next []sourceKey
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
			return fmt.Errorf("%s %s/%s did not fetch within --timeout %s: is source-controller running?", s.kind, s.namespace, s.name, o.Timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sourceReadyPollInterval):
		}
	}
}
