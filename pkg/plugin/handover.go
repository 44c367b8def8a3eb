package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

const handoverExample = `  # After export, commit and a Flux Kustomization that reconciled the tree
  kubectl tenant handover --all

  # What would be released, checked by the API server, nothing changed
  kubectl tenant handover --all --dry-run=server`

// HandoverOptions are the inputs of `kubectl tenant handover`.
type HandoverOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Selection   *tenant.Selection
	Concurrency int
	DryRun      tenant.DryRunStrategy
}

// NewCmdHandover builds `kubectl tenant handover`.
func NewCmdHandover(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &HandoverOptions{
		configFlags: configFlags,
		IOStreams:   streams,
		Selection:   tenant.NewSelection(false),
		Concurrency: 16,
	}
	cmd := &cobra.Command{
		Use:   "handover [NAMESPACE...] [--tenant-name NAME] [-l SELECTOR] [--all]",
		Short: "End a move to git: drop the plugin's field ownership of tenants Flux has applied",
		Long: `Handover ends the move of tenants to git. Server-side apply shares a field
between the managers that apply it. While the plugin (field manager ` + tenant.FieldManager + `)
owns a tenant's fields next to kustomize-controller, as after "kubectl tenant
export" and a Flux Kustomization that reconciles the tree, a field removed from git
stays on the cluster, because the plugin still owns it.

For each selected tenant, handover checks that kustomize-controller's apply owns every
field the plugin owns, on every object of the tenant; then it drops the plugin's
ownership with a server-side apply of each object's name alone. The API server
removes the plugin's entry and keeps every field, since Flux owns them all. From then
on git alone decides: a field or a tenant removed from git is removed by Flux.

A tenant with a field Flux has not applied yet is not handed over at all (one line
says which field), and the exit code is 1; the other tenants are handed over.
Running it again is safe: a tenant already handed over has nothing to release.

Flux 2.9's kustomize-controller itself takes over, each time it applies, the
fields of every field manager whose name starts with "kubectl", ` + tenant.FieldManager + `
among them: after its first reconcile of the tree there is then nothing left to
release, and handover says so. It remains the check that Flux has applied every
field, and it releases what the plugin applied after Flux's last reconcile.

After the handover, do not run "kubectl tenant add" on the tenant: its server-side
apply takes the fields back, and with them the co-ownership this ended (until Flux
2.9's next reconcile takes them over again and drops what git does not hold).
Change the tenant in git instead (export writes what add would render).`,
		Example: handoverExample,
		RunE:    runCommand(o),
	}
	addSelectionFlags(cmd, o.Selection, configFlags)
	cmd.Flags().IntVar(&o.Concurrency, "concurrency", o.Concurrency, "How many tenants are handed over at once")
	addDryRunFlag(cmd, &o.DryRun)
	return cmd
}

// Complete takes tenant namespaces as arguments.
func (o *HandoverOptions) Complete(_ *cobra.Command, args []string) error {
	o.Selection.Complete(args)
	return nil
}

// Validate refuses a client dry run: whether Flux owns each field is only
// known from the cluster.
func (o *HandoverOptions) Validate() error {
	if o.DryRun == tenant.DryRunClient {
		return fmt.Errorf("--dry-run=client is not supported: handover reads who owns each field from the cluster; use --dry-run=server")
	}
	if o.Concurrency < 1 {
		return fmt.Errorf("invalid --concurrency %d: must be at least 1", o.Concurrency)
	}
	return o.Selection.Validate()
}

// handoverResult is what became of one tenant.
type handoverResult struct {
	released int
	err      error
}

// Run reads the selected tenants, hands each over that Flux has applied
// whole, and reports one line per tenant in selection order.
func (o *HandoverOptions) Run(ctx context.Context) error {
	qps, burst := concurrentRate(o.Concurrency)
	c, err := newClients(o.configFlags, o.ErrOut, qps, burst)
	if err != nil {
		return err
	}
	namespaces, err := tenant.SelectLive(ctx, c, o.Selection, o.ErrOut)
	if err != nil {
		return err
	}
	if len(namespaces) == 0 {
		fmt.Fprintln(o.ErrOut, "No tenants selected.")
		return nil
	}
	reader := &tenant.Reader{Clients: c, LabelKey: o.Selection.LabelKey, ChunkSize: o.Selection.ChunkSize}
	tenants, err := reader.ReadObjects(ctx, namespaces)
	if err != nil {
		return err
	}
	releaser := &tenant.Releaser{Client: c.Dynamic, DryRun: o.DryRun}
	results := make([]handoverResult, len(tenants))
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(o.Concurrency)
	for i, t := range tenants {
		group.Go(func() error {
			results[i] = handOver(groupCtx, releaser, t)
			return nil
		})
	}
	_ = group.Wait() // each tenant's error is in its result
	return o.report(tenants, results)
}

// handOver releases one tenant's objects, or none when Flux has not
// applied all of them.
func handOver(ctx context.Context, releaser *tenant.Releaser, t *tenant.Tenant) handoverResult {
	objs, err := tenant.PlanHandover(t)
	if err != nil {
		return handoverResult{err: err}
	}
	for i, obj := range objs {
		if _, err := releaser.Release(ctx, obj); err != nil {
			return handoverResult{released: i, err: err}
		}
	}
	return handoverResult{released: len(objs)}
}

// report prints one line per tenant and fails the command when any
// tenant was not handed over.
func (o *HandoverOptions) report(tenants []*tenant.Tenant, results []handoverResult) error {
	failed := 0
	for i, t := range tenants {
		r := results[i]
		var notApplied *tenant.NotAppliedByFlux
		switch {
		case errors.As(r.err, &notApplied):
			failed++
			fmt.Fprintf(o.ErrOut, "tenant %s: not handed over: %s\n", t.Namespace, tenant.OneLine(r.err.Error()))
		case r.err != nil:
			failed++
			fmt.Fprintf(o.ErrOut, "tenant %s: handover stopped after %d objects: %s (run handover again)\n", t.Namespace, r.released, tenant.OneLine(r.err.Error()))
		case r.released == 0:
			fmt.Fprintf(o.Out, "tenant %s: nothing to hand over: %s owns none of its fields%s\n", t.Namespace, tenant.FieldManager, dryRunSuffix(o.DryRun))
		default:
			fmt.Fprintf(o.Out, "tenant %s handed over to git (%d objects)%s\n", t.Namespace, r.released, dryRunSuffix(o.DryRun))
		}
	}
	if failed > 0 {
		return &tenant.FailedError{Failed: failed, Total: len(tenants), What: "not handed over"}
	}
	return nil
}
