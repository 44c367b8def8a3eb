package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// operation is what suspend, resume and reconcile each do to a tenant's
// Kustomization.
type operation struct {
	verb    string // the command
	done    string // what the name printer says of each object
	summary string // the closing line; %s is the count of tenants
	tenant.Operation
	short, long, example, label string
}

func suspendOperation() operation {
	suspend := true
	return operation{
		verb: "suspend", done: "suspended", summary: "suspended %s", Operation: tenant.Operation{Suspend: &suspend}, label: "Suspended",
		short: "Suspend tenants' Flux Kustomizations: Flux stops applying their template",
		long: `Suspend the selected tenants' Flux Kustomizations (spec.suspend: true, as "flux suspend ks"
does): Flux starts no new reconcile of them, so commits to the template are not applied to
them until "kubectl tenant resume". Nothing in the tenants' namespaces changes.

spec.suspend is server-side applied by the field manager ` + tenant.SuspendFieldManager + `,
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
		verb: "resume", done: "resumed", summary: "resumed %s", Operation: tenant.Operation{Suspend: &resume, Reconcile: true}, label: "Resumed",
		short: "Resume tenants' Flux Kustomizations and request a reconcile of each",
		long: `Resume the selected tenants' Flux Kustomizations (spec.suspend: false, by the field manager
` + tenant.SuspendFieldManager + `) and request a reconcile of each, as "flux resume ks" does, so that
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
		verb: "reconcile", done: "reconcile requested", summary: "requested a reconcile of %s", Operation: tenant.Operation{Reconcile: true}, label: "Requested",
		short: "Ask Flux to reconcile tenants' Kustomizations now",
		long: `Ask Flux to reconcile the selected tenants' Kustomizations now instead of at their next
interval: the reconcile.fluxcd.io/requestedAt annotation is set, as "flux reconcile ks"
does (field manager ` + tenant.ReconcileFieldManager + `). --with-source asks each tenant's source
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
	Selection         *tenant.Selection
	KustomizationName string
	Concurrency       int
	Wait              bool
	Timeout           time.Duration
	WithSource        bool
	DryRun            tenant.DryRunStrategy

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
		Selection:         tenant.NewSelection(false),
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
	addSelectionFlags(cmd, o.Selection, configFlags)
	f := cmd.Flags()
	f.StringVar(&o.KustomizationName, "kustomization-name", o.KustomizationName, "Name of the tenants' Flux Kustomization")
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "How many tenants are patched at once")
	waitUsage := "Wait until every tenant is Ready with the reconcile requested"
	if !op.Reconcile {
		waitUsage = "Wait until every Kustomization is stored as suspended"
	}
	f.BoolVar(&o.Wait, "wait", false, waitUsage)
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait (and --with-source) waits")
	if op.Reconcile {
		f.BoolVar(&o.WithSource, "with-source", false, "Ask each tenant's source to fetch first, and wait until it has")
	}
	addDryRunFlag(cmd, &o.DryRun)
	o.outputFlags.addFlags(cmd)
	return cmd
}

// Complete takes tenant namespaces as arguments and builds the printer.
func (o *OperateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.Complete(args)
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
	return o.Selection.Validate()
}

// Run reads the selection and the tenants' Kustomizations, so that bad
// input is refused before anything is written; then patches every tenant,
// --concurrency at a time, and with --wait waits for them all in one
// list per round.
func (o *OperateOptions) Run(ctx context.Context) error {
	// A thousand tenants are a thousand patches; at client-go's default
	// 5 QPS that would be minutes of throttling.
	qps, burst := concurrentRate(o.Concurrency)
	c, err := newClients(o.configFlags, o.ErrOut, qps, burst)
	if err != nil {
		return err
	}
	namespaces, err := selectedNamespaces(ctx, c, o.Selection)
	if err != nil {
		return err
	}
	if len(namespaces) == 0 {
		fmt.Fprintln(o.ErrOut, "No tenants selected.")
		return nil
	}
	if err := tenant.RequireFlux(c); err != nil {
		return err
	}
	fleet := &tenant.Fleet{Clients: c, KustomizationName: o.KustomizationName, Concurrency: o.Concurrency,
		Timeout: o.Timeout, ChunkSize: o.Selection.ChunkSize, DryRun: o.DryRun}
	found, err := fleet.ReadKustomizations(ctx, namespaces)
	if err != nil {
		return err
	}
	var failures []tenant.Failure
	var targets []string
	for _, ns := range namespaces {
		if found[ns] == nil {
			failures = append(failures, tenant.Failure{Namespace: ns, Message: fmt.Sprintf("Kustomization %s not found", o.KustomizationName)})
			continue
		}
		targets = append(targets, ns)
	}
	requestedAt := time.Now().Format(time.RFC3339Nano)
	if o.WithSource {
		if err := o.reconcileSources(ctx, fleet, targets, found, requestedAt); err != nil {
			return err
		}
	}
	patched, patchFailures, err := o.patchAll(ctx, fleet, targets, requestedAt)
	if err != nil {
		return err
	}
	failures = append(failures, patchFailures...)
	what := "failed"
	if o.Wait && o.op.Reconcile && o.DryRun == tenant.DryRunNone {
		notReady, err := waitReady(ctx, fleet, targets, patched, requestedAt, o.IOStreams, o.output)
		if err != nil {
			return err
		}
		failures = append(failures, notReady...)
		what = "not Ready"
	}
	if len(failures) > 0 {
		reportFailures(o.ErrOut, failures)
		return &tenant.FailedError{Failed: len(failures), Total: len(namespaces), What: what}
	}
	return nil
}

// selectedNamespaces collects the names of the selection's tenant
// namespaces.
func selectedNamespaces(ctx context.Context, c *tenant.Clients, s *tenant.Selection) ([]string, error) {
	var namespaces []string
	err := s.Each(ctx, c, func(ns *metav1.PartialObjectMetadata) error {
		namespaces = append(namespaces, ns.Name)
		return nil
	})
	return namespaces, err
}

// patchAll patches the targets, counting on a terminal, and prints what
// the server returned and the summary line.
func (o *OperateOptions) patchAll(ctx context.Context, fleet *tenant.Fleet, targets []string, requestedAt string) ([]*unstructured.Unstructured, []tenant.Failure, error) {
	bar := newProgress(o.ErrOut, o.op.label, len(targets))
	patched, failures := fleet.PatchAll(ctx, o.op.Operation, targets, requestedAt, func() { bar.add(1) })
	bar.clear()
	for i, obj := range patched {
		if obj != nil {
			if err := o.output.printIn(o.Out, targets[i], obj); err != nil {
				return nil, nil, err
			}
		}
	}
	if o.output.human() {
		fmt.Fprintln(o.Out, fmt.Sprintf(o.op.summary, countTenants(len(targets)-len(failures)))+dryRunSuffix(o.DryRun))
	}
	return patched, failures, nil
}

// reconcileSources asks the targets' sources to fetch, prints what was
// asked, and, unless this is a dry run, waits until each has fetched, so
// that the tenants' reconcile that follows builds from the newest commit.
// A source that fetched but is not Ready is a warning: its tenants then
// report Flux's message themselves.
func (o *OperateOptions) reconcileSources(ctx context.Context, fleet *tenant.Fleet, targets []string, found map[string]*tenant.KustomizationSummary, requestedAt string) error {
	sources, requested, err := fleet.RequestSources(ctx, targets, found, requestedAt)
	if err != nil {
		return err
	}
	for i, obj := range requested {
		if err := o.output.printIn(o.Out, sources[i].Namespace, obj); err != nil {
			return err
		}
	}
	if o.DryRun != tenant.DryRunNone {
		return nil
	}
	return fleet.WaitSourcesHandled(ctx, sources, requestedAt, o.ErrOut)
}

// countTenants is "1 tenant" or "N tenants".
func countTenants(n int) string {
	if n == 1 {
		return "1 tenant"
	}
	return fmt.Sprintf("%d tenants", n)
}

// waitReady waits until every patched tenant is Ready with the reconcile
// requested at requestedAt, drawing "Ready N/M" on a terminal, and returns
// those that are not; suspend's, resume's and add's --wait.
func waitReady(ctx context.Context, fleet *tenant.Fleet, targets []string, patched []*unstructured.Unstructured, requestedAt string, streams genericiooptions.IOStreams, out *output) ([]tenant.Failure, error) {
	requests := 0
	for _, obj := range patched {
		if obj != nil {
			requests++
		}
	}
	bar := newProgress(streams.ErrOut, "Ready", requests)
	notReady, err := fleet.WaitReady(ctx, targets, patched, requestedAt, bar.set)
	bar.clear()
	if err != nil {
		return nil, err
	}
	if len(notReady) == 0 && out.human() {
		fmt.Fprintf(streams.Out, "%d of %d tenants Ready\n", requests, requests)
	}
	return notReady, nil
}
