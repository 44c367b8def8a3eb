package plugin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

const listExample = `  # List tenants with the state of their Flux Kustomization
  kubectl tenant list

  # Every namespace of one tenant
  kubectl tenant list --tenant-name payments

  # More columns: Kustomization, revision, age
  kubectl tenant list -o wide

  # Only some tenants, as YAML
  kubectl tenant list -l team=payments -o yaml`

// ListOptions are the inputs of `kubectl tenant list`.
type ListOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	Selection         *tenant.Selection
	KustomizationName string

	output *output
}

// NewCmdList builds `kubectl tenant list`.
func NewCmdList(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ListOptions{
		configFlags:       configFlags,
		outputFlags:       newTableOutputFlags(),
		IOStreams:         streams,
		Selection:         tenant.NewSelection(true),
		KustomizationName: render.DefaultKustomizationName,
	}
	// list reads everything it selects, so chunks only cost it: the API
	// server answers a list's first chunk from its watch cache, but reads
	// the chunks after it from etcd (on older servers always, on newer
	// ones whenever the cache kept no snapshot of the list's revision, as
	// on the bench cluster's 1.37) and decodes every object again.
	// For 10,000 tenants that was most of list's time (bench/RESULTS.md).
	// One request per list is answered from the cache, and list decodes
	// it as it arrives.
	o.Selection.ChunkSize = 0
	cmd := &cobra.Command{
		Use:     "list [NAMESPACE...]",
		Aliases: []string{"ls", "get"},
		Short:   "List tenants and whether Flux has reconciled them",
		Long: `List tenant namespaces (those with the tenant label) with the namespace phase and,
as "flux get ks" shows them, whether the tenant's Flux Kustomization is suspended and
its Ready condition. Without namespaces, --tenant-name or -l, every tenant is listed.

A tenant is a team: one or more namespaces. Rows are sorted by tenant, then by
namespace, so that a tenant's namespaces sit together. A namespace is a member of
its tenant when kubectl tenant wrote its tenant label (add does). A TENANT ending in
"*" marks a namespace whose tenant label someone else wrote (by hand, or a GitOps
tool): it is not one of that tenant's namespaces, so --tenant-name and delete
--tenant-name leave it out; kubectl tenant add --tenant-name NAME --tenant-namespace
NAMESPACE makes it a member.`,
		Example: listExample,
		RunE:    runCommand(o),
	}
	addSelectionFlags(cmd, o.Selection, configFlags)
	cmd.Flags().Lookup("chunk-size").Usage = "Return large lists in chunks of this many; 0 (list's default) reads each list in one request, which the API server answers from its cache"
	cmd.Flags().StringVar(&o.KustomizationName, "kustomization-name", o.KustomizationName, "Name of the tenants' Flux Kustomization")
	o.outputFlags.addFlags(cmd)
	return cmd
}

// Complete takes tenant namespaces as arguments and builds the printer.
func (o *ListOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.Complete(args)
	var err error
	o.output, err = o.outputFlags.toOutput(tenant.DryRunNone)
	return err
}

// Validate checks the selection.
func (o *ListOptions) Validate() error {
	return o.Selection.Validate()
}

// Run lists tenant namespaces and their Kustomizations.
func (o *ListOptions) Run(ctx context.Context) error {
	// With --chunk-size, ten thousand tenants are forty pages, and a few
	// namespaces are a request each: at client-go's default 5 QPS list
	// would spend its time throttling itself.
	c, err := newClients(o.configFlags, o.ErrOut, 50, 100)
	if err != nil {
		return err
	}
	if !o.output.table {
		return o.printNamespaces(ctx, c)
	}
	var rows []tenantRow
	var states map[string]kustomizationState
	var fluxInstalled bool
	if o.Selection.Name != "" || len(o.Selection.Namespaces) > 0 {
		// A tenant or named namespaces are few: read them first, then
		// only their Kustomizations, not every tenant's.
		if rows, err = o.readRows(ctx, c); err != nil {
			return err
		}
		states, fluxInstalled, err = o.readStates(ctx, c, rowNamespaces(rows))
	} else {
		// The two lists are independent, so they run side by side.
		group, groupCtx := errgroup.WithContext(ctx)
		group.Go(func() (err error) {
			rows, err = o.readRows(groupCtx, c)
			return err
		})
		group.Go(func() (err error) {
			states, fluxInstalled, err = o.readStates(groupCtx, c, nil)
			return err
		})
		err = group.Wait()
	}
	if err != nil {
		return err
	}
	return o.printTable(rows, states, fluxInstalled)
}

// readRows reads a row of each selected tenant namespace. Only a row's few
// strings are kept of each namespace, so ten thousand tenants take a few
// megabytes, not the objects' tens.
func (o *ListOptions) readRows(ctx context.Context, c *tenant.Clients) ([]tenantRow, error) {
	var rows []tenantRow
	members := tenant.NewMembers(o.Selection.LabelKey)
	err := o.Selection.Each(ctx, c, func(ns *metav1.PartialObjectMetadata) error {
		rows = append(rows, o.rowOf(ns, members))
		return nil
	})
	return rows, err
}

// perNamespaceReads is how many namespaces' Kustomizations list reads a
// namespace at a time (8 requests at once, a few milliseconds each) rather
// than all tenants' in one list, whose cost grows with the tenants: about
// a quarter of a second of the API server's CPU at ten thousand.
const perNamespaceReads = 20

// readStates reads the state of the tenant Kustomization in each of
// namespaces, or in every namespace when namespaces is nil: one list across
// all namespaces, filtered by name on the server, or, for a few
// namespaces, a list in each. fluxInstalled is false when the cluster has
// no Kustomization API.
func (o *ListOptions) readStates(ctx context.Context, c *tenant.Clients, namespaces []string) (states map[string]kustomizationState, fluxInstalled bool, err error) {
	states = map[string]kustomizationState{}
	var mu sync.Mutex
	visit := func(ks *tenant.KustomizationSummary) {
		mu.Lock()
		defer mu.Unlock()
		states[ks.Metadata.Namespace] = kustomizationStateOf(ks)
	}
	if namespaces == nil || len(namespaces) > perNamespaceReads {
		err = tenant.EachKustomization(ctx, c.Config, "", o.KustomizationName, o.Selection.ChunkSize, visit)
	} else {
		group, groupCtx := errgroup.WithContext(ctx)
		group.SetLimit(8)
		for _, ns := range namespaces {
			group.Go(func() error {
				return tenant.EachKustomization(groupCtx, c.Config, ns, o.KustomizationName, o.Selection.ChunkSize, visit)
			})
		}
		err = group.Wait()
	}
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("listing Flux Kustomizations: %w", err)
	}
	return states, true, nil
}

// rowNamespaces is the rows' namespaces, empty but not nil for no rows.
func rowNamespaces(rows []tenantRow) []string {
	namespaces := make([]string, 0, len(rows))
	for _, r := range rows {
		namespaces = append(namespaces, r.namespace)
	}
	return namespaces
}

// printNamespaces prints the tenant namespaces themselves, -o name one by
// one and every other format as one List, as kubectl get does.
func (o *ListOptions) printNamespaces(ctx context.Context, c *tenant.Clients) error {
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}}}
	err := o.Selection.EachObject(ctx, c, func(ns *unstructured.Unstructured) error {
		list.Items = append(list.Items, *ns)
		return nil
	})
	if err != nil {
		return err
	}
	if o.output.format == "name" {
		for i := range list.Items {
			if err := o.output.printObj(o.Out, &list.Items[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return o.output.printObj(o.Out, list)
}

// notMemberMark follows the tenant of a namespace that carries the tenant
// label but is not a member (see tenant.IsMember); list's help explains it
// as "*". A suffix, not a column: the columns stay those scripts already
// read, and one glance at the TENANT column shows both the team and who
// put the namespace in it.
const notMemberMark = "*"

// tenantRow is what the table shows of a tenant namespace.
type tenantRow struct {
	namespace, tenant, phase string
	// member is whether kubectl tenant wrote the tenant label.
	member  bool
	created time.Time
}

// rowOf reads a row off a tenant namespace's metadata. A namespace's phase
// is Terminating exactly when it has a deletion time, so the metadata is
// all a row needs.
func (o *ListOptions) rowOf(ns *metav1.PartialObjectMetadata, members *tenant.Members) tenantRow {
	name := ns.Labels[o.Selection.LabelKey]
	phase := "Active"
	if ns.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	return tenantRow{namespace: ns.Name, tenant: name, phase: phase,
		member: members.IsMember(ns, name), created: ns.CreationTimestamp.Time}
}

// byTenant orders rows as the table shows them: a tenant's namespaces
// together, its members before the namespaces only labelled with its name,
// each group by namespace.
func byTenant(a, b tenantRow) int {
	if c := cmp.Compare(a.tenant, b.tenant); c != 0 {
		return c
	}
	if a.member != b.member {
		if a.member {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.namespace, b.namespace)
}

// kustomizationState is what the table shows of a tenant's Kustomization.
type kustomizationState struct {
	ready, message, revision, suspended string
}

// kustomizationStateOf reads suspension and the Ready condition as `flux
// get ks` shows them.
func kustomizationStateOf(ks *tenant.KustomizationSummary) kustomizationState {
	state := kustomizationState{ready: "Unknown", message: "waiting to be reconciled", revision: "-", suspended: "False"}
	if ks.Spec.Suspend {
		state.suspended = "True"
	}
	if r := ks.Status.LastAppliedRevision; r != "" {
		state.revision = r
	}
	state.ready, state.message = tenant.Readiness(ks.Metadata.Generation, ks.Status.ObservedGeneration, ks.Status.Conditions)
	return state
}

// printTable prints the rows grouped by tenant and, on the error stream,
// what the non-member mark means when a row has it.
func (o *ListOptions) printTable(rows []tenantRow, states map[string]kustomizationState, fluxInstalled bool) error {
	slices.SortFunc(rows, byTenant)
	// SUSPENDED before READY, as in `flux get ks`: a suspended tenant's
	// Ready condition is the last one Flux wrote, however old.
	header := []string{"NAMESPACE", "TENANT", "STATUS", "SUSPENDED", "READY", "MESSAGE"}
	if o.output.wide() {
		header = append(header, "KUSTOMIZATION", "REVISION", "AGE")
	}
	now := time.Now()
	notMembers := 0
	cells := make([][]string, 0, len(rows))
	for _, r := range rows {
		state, found := states[r.namespace]
		switch {
		case !fluxInstalled:
			state = kustomizationState{ready: "-", message: "Flux is not installed (run kubectl tenant bootstrap)", revision: "-", suspended: "-"}
		case !found:
			state = kustomizationState{ready: "-", message: fmt.Sprintf("Kustomization %s not found", o.KustomizationName), revision: "-", suspended: "-"}
		}
		name := r.tenant
		if !r.member {
			name += notMemberMark
			notMembers++
		}
		row := []string{r.namespace, name, r.phase, state.suspended, state.ready, state.message}
		if o.output.wide() {
			row = append(row, o.KustomizationName, state.revision, duration.HumanDuration(now.Sub(r.created)))
		}
		cells = append(cells, row)
	}
	if err := o.output.printTable(o.Out, header, cells); err != nil {
		return err
	}
	if notMembers > 0 {
		// On the error stream, as kubectl's notes are: stdout stays the table.
		fmt.Fprintln(o.ErrOut, notMembersNote(notMembers))
	}
	return nil
}

// notMembersNote explains the mark under a table that has it.
func notMembersNote(n int) string {
	namespaces := "1 namespace"
	if n != 1 {
		namespaces = fmt.Sprintf("%d namespaces", n)
	}
	return fmt.Sprintf("%s not a member: kubectl tenant did not write the tenant label of %s (kubectl tenant add --tenant-name NAME --tenant-namespace NAMESPACE adds one to its tenant)", notMemberMark, namespaces)
}
