package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

const applyExample = `  # What would the fleet file change? (+ add, ~ change, - prune; nothing is written)
  kubectl tenant apply -f tenants.yaml --dry-run=server

  # Make the cluster match the file, and delete the tenants it no longer lists
  kubectl tenant apply -f tenants.yaml --prune

  # A directory of fleet files, waiting until Flux has applied every changed tenant
  kubectl tenant apply -f fleet/ --wait --timeout 10m

  # Allow a prune of up to 25 tenants (the default limit is a tenth of the fleet)
  kubectl tenant apply -f tenants.yaml --prune --prune-limit 25`

// ApplyOptions are the inputs of `kubectl tenant apply`.
type ApplyOptions struct {
	genericiooptions.IOStreams
	// add applies the tenants the plan says change, as add -f would: the
	// same checks, order, concurrency and waits.
	add *AddOptions

	// Prune deletes the tenants the file no longer lists.
	Prune bool
	// PruneLimit is how many tenants a prune may touch; below zero it is
	// the plan's default, a tenth of the fleet.
	PruneLimit int
}

// NewCmdApply builds `kubectl tenant apply`.
func NewCmdApply(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	// add writes what the server returns for each object; apply prints
	// the plan instead, so add's own output goes nowhere.
	add := NewAddOptions(configFlags, genericiooptions.IOStreams{In: streams.In, Out: io.Discard, ErrOut: streams.ErrOut})
	o := &ApplyOptions{IOStreams: streams, add: add, PruneLimit: -1}
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Make the cluster's tenants match a fleet file: plan, create, update and prune",
		Long: `Apply makes the tenants on the cluster match a fleet file (kind TenantFleet, see
"kubectl tenant add --help" for the CSV and YAML lists it also reads), a directory of
them, or stdin. It reads every tenant back from the cluster first and prints the plan,
one line a tenant: + created, ~ changed (with each setting that changes, old -> new),
- pruned, and a summary line. Tenants that do not change are not written at all, so
applying the same file twice sends no write the second time.

The tenants that change are applied by the code of "kubectl tenant add -f": the same
checks before the first write (a namespace of another tenant or of nobody is refused
unless --adopt), the same order, in parallel, with --wait.

A tenant the file no longer lists is pruned only with --prune: its namespaces, and
everything in them, are deleted. Only namespaces whose tenant label kubectl tenant
applied are pruned, never one labelled by hand, one handed over to git, or a reserved
namespace. A prune of more than a tenth of the fleet (at least one tenant) is refused
before anything is written, unless --prune-limit allows it. Without --prune the
tenants that would be pruned are named and left alone.

--dry-run=server prints the plan, sends every change as a server-side dry run, and
writes nothing.`,
		Example:           applyExample,
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              runCommand(o),
	}
	f := cmd.Flags()
	f.StringVarP(&add.Settings.Filename, "filename", "f", "", "The fleet file (kind TenantFleet, or add -f's CSV or YAML list), a directory of them (*.yaml, *.yml, *.json, *.csv), or - for stdin")
	f.BoolVar(&o.Prune, "prune", false, "Delete the tenants kubectl tenant made that the file no longer lists, and the namespaces a listed tenant no longer has")
	f.IntVar(&o.PruneLimit, "prune-limit", o.PruneLimit, "The most tenants --prune may delete or take namespaces from; the default, -1, is a tenth of the tenants kubectl tenant made (at least one)")
	add.addApplyFlags(cmd)
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// Complete reads the fleet file: every tenant is parsed and checked here,
// so one bad tenant stops the run before the cluster is read.
func (o *ApplyOptions) Complete(cmd *cobra.Command, args []string) error {
	return o.add.Complete(cmd, nil)
}

// Validate checks the flags and every tenant of the file.
func (o *ApplyOptions) Validate() error {
	a := o.add
	if a.DryRun == tenant.DryRunClient {
		return fmt.Errorf("--dry-run=client cannot plan: apply compares the file with the cluster; use --dry-run=server (or add -f FILE --dry-run=client -o yaml for the manifests)")
	}
	if o.PruneLimit < -1 {
		return fmt.Errorf("invalid --prune-limit %d: give a number of tenants, 0 or more (-1 for a tenth of the fleet)", o.PruneLimit)
	}
	return a.Validate()
}

// Run plans, prints the plan, and carries it out.
func (o *ApplyOptions) Run(ctx context.Context) error {
	a := o.add
	c, keys, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer a.printDeployKeys(keys)
	plan, err := o.plan(ctx, c)
	if err != nil {
		return err
	}
	o.printPlan(plan)
	if err := o.checkPrune(plan); err != nil {
		return err
	}
	a.tenants = nil
	for _, step := range plan.Steps {
		a.tenants = append(a.tenants, step.Apply...)
	}
	var notChecked atomic.Int64
	a.notChecked = func(string) { notChecked.Add(1) }
	err = a.applyTenants(ctx, c)
	if n := notChecked.Load(); n > 0 {
		fmt.Fprintf(o.ErrOut, "Warning: %d new namespaces do not exist yet, so the server did not check the objects inside them\n", n)
	}
	if err != nil {
		return err
	}
	if o.Prune {
		if err := o.prune(ctx, c, plan); err != nil {
			return err
		}
	}
	if a.Wait && len(a.tenants) > 0 {
		return a.waitReady(ctx, c)
	}
	return nil
}

// plan reads every tenant back and compares the file with them.
func (o *ApplyOptions) plan(ctx context.Context, c *tenant.Clients) (*tenant.Plan, error) {
	labelKey := o.add.Tenant.LabelKey
	namespaces, err := tenant.SelectAll(ctx, c, labelKey, o.ErrOut)
	if err != nil {
		return nil, err
	}
	reader := &tenant.Reader{Clients: c, LabelKey: labelKey, ChunkSize: tenant.DefaultChunkSize}
	live, err := reader.Read(ctx, namespaces)
	if err != nil {
		return nil, err
	}
	return tenant.NewPlan(o.add.tenants, live, labelKey)
}

// printPlan prints one line a changed tenant, its changes under it, and
// the summary.
func (o *ApplyOptions) printPlan(plan *tenant.Plan) {
	for _, line := range plan.Lines() {
		fmt.Fprintln(o.Out, line)
	}
	summary := plan.Summary()
	if pruned := plan.Pruned(); len(pruned) > 0 && !o.Prune {
		summary += fmt.Sprintf(" (without --prune, nothing is pruned: %s)", someNames(stepNames(pruned)))
	}
	fmt.Fprintf(o.Out, "Plan: %s%s.\n", summary, dryRunSuffix(o.add.DryRun))
}

// checkPrune refuses, before anything is written, a prune larger than the
// limit: a file that lost half its tenants in a bad merge must not take
// half the fleet with it.
func (o *ApplyOptions) checkPrune(plan *tenant.Plan) error {
	pruned := plan.Pruned()
	if !o.Prune || len(pruned) == 0 {
		return nil
	}
	limit, why := o.PruneLimit, "--prune-limit"
	if limit < 0 {
		limit, why = plan.PruneLimit(), fmt.Sprintf("the default limit, a tenth of the %d tenants kubectl tenant made here", plan.Fleet)
	}
	if len(pruned) <= limit {
		return nil
	}
	return fmt.Errorf("refusing to prune %d tenants (%s), more than %d (%s); nothing was changed: check the file, or pass --prune-limit %d", len(pruned), someNames(stepNames(pruned)), limit, why, len(pruned))
}

// prune deletes the namespaces the plan prunes, each unless it was made
// again since it was read.
func (o *ApplyOptions) prune(ctx context.Context, c *tenant.Clients, plan *tenant.Plan) error {
	for _, step := range plan.Pruned() {
		for _, ns := range step.Prune {
			if err := tenant.RemoveNamespace(ctx, c, ns, o.add.DryRun); err != nil {
				return fmt.Errorf("pruning tenant %s: %w", step.Name, err)
			}
			fmt.Fprintf(o.Out, "namespace/%s pruned (tenant %s)%s\n", ns.GetName(), step.Name, dryRunSuffix(o.add.DryRun))
		}
	}
	return nil
}

func stepNames(steps []tenant.PlanStep) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name
	}
	return out
}

// someNames lists the first few names and counts the rest: a summary line
// about a thousand tenants must stay a line.
func someNames(names []string) string {
	const shown = 5
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}
