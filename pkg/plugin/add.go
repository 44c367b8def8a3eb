package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

const addExample = `  # Add tenant "sometenant" in namespace foo: its namespace, variables, RBAC and Kustomization
  kubectl tenant add --tenant-namespace foo --tenant-name sometenant

  # The same, positionally
  kubectl tenant add foo sometenant

  # Print the manifests for git instead of applying them (no cluster needed)
  kubectl tenant add foo sometenant --dry-run=client -o yaml > tenants/foo.yaml

  # Confine the tenant: Flux applies its manifests as the tenant's ServiceAccount
  kubectl tenant add foo sometenant --confine --var REGION=eu-west-1

  # A team: two namespaces, its people, a production overlay
  kubectl tenant add --tenant-name payments --tenant-namespace payments-dev --tenant-namespace payments-prod \
    --owner Group:payments --owner User:alice@example.com=admin --namespace-path payments-prod=./tenants/production

  # Take a namespace away from the team (only one kubectl tenant made the team's)
  kubectl tenant add --tenant-name payments --remove-namespace payments-qa

  # Many tenants from a file of "namespace,name[,KEY=VALUE...]" lines (or a YAML list)
  kubectl tenant add -f tenants.csv --concurrency 16

  # Wait until Flux has applied the template to every tenant
  kubectl tenant add -f tenants.csv --wait --timeout 10m`

// AddOptions are the inputs of `kubectl tenant add`.
type AddOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	// Tenant names the tenant; Complete fills in its settings. With -f it
	// is what every listed tenant starts from.
	Tenant render.TenantOptions
	// Namespaces are the tenant's namespaces (--tenant-namespace, or the
	// first argument): each gets what a one-namespace tenant gets.
	Namespaces []string
	// RemoveNamespaces are namespaces of the tenant to delete.
	RemoveNamespaces []string

	Settings       *tenant.Settings
	Concurrency    int
	DryRun         tenant.DryRunStrategy
	Adopt          bool
	ForceConflicts bool
	Recreate       bool
	// Wait waits, after applying, until every tenant is Ready.
	Wait bool
	// Timeout bounds --wait, and the waits for a converted tenant's own
	// source and for a new quota to be counted.
	Timeout time.Duration

	tenants []render.TenantOptions
	output  *output
	// notChecked, when set, hears of each new namespace a server dry run
	// could not look inside (see tenant.Adder.NotChecked).
	notChecked func(namespace string)
}

// NewAddOptions returns options with the demo's defaults.
func NewAddOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *AddOptions {
	return &AddOptions{
		configFlags: configFlags,
		outputFlags: newObjectOutputFlags("serverside-applied"),
		IOStreams:   streams,
		Tenant:      render.DefaultTenantOptions(),
		Settings:    tenant.NewSettings(),
		Concurrency: 8,
		Timeout:     2 * time.Minute,
	}
}

// NewCmdAdd builds `kubectl tenant add`.
func NewCmdAdd(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewAddOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "add [--tenant-namespace] NAMESPACE [--tenant-name] NAME",
		Short: "Add a tenant: namespace, variables, RBAC and Flux Kustomization",
		Long: `Add a tenant: a labelled Namespace, the ConfigMap tenant-vars, a ServiceAccount and
RoleBinding as "flux create tenant" makes them, and a Flux Kustomization that deploys
the per-tenant template into the namespace with post-build substitutions.

The objects are server-side applied (field manager kubectl-tenant) in that order, so
running the same command again changes nothing. An existing namespace is refused
unless it already belongs to this tenant, or --adopt is given and it belongs to no
tenant.

A tenant may be a team: repeat --tenant-namespace for several namespaces (each gets
what a one-namespace tenant gets; --namespace-var and --namespace-path tell them apart),
bind its people with --owner, and limit the URLs its sources may fetch from with
--allow-source. --remove-namespace deletes a namespace of the tenant.

A confined tenant's own private repository (--confine --git-url) takes the credential
flags bootstrap takes. They are stored in a Secret in the tenant's namespace, because a
GitRepository reads Secrets of its own namespace only, so the tenant can read its own
key; each tenant gets a key of its own, printed for you to add as a read-only deploy key.
-o yaml and json leave Secrets out unless --show-secrets is given.`,
		Example: addExample,
		Args:    cobra.MaximumNArgs(2),
		// A new namespace has nothing to complete from.
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              runCommand(o),
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Namespaces, "tenant-namespace", nil, "Namespace of the tenant (a DNS-1123 label); repeat it for a team with several namespaces, each of which gets the tenant's variables, RBAC and Kustomization")
	f.StringArrayVar(&o.RemoveNamespaces, "remove-namespace", nil, "Delete this namespace of the tenant, and everything in it (repeatable); only a namespace kubectl tenant made the tenant's is deleted")
	f.StringVar(&o.Tenant.Name, "tenant-name", "", "Name of the tenant (a label value)")
	o.Settings.AddFlags(f)
	o.addApplyFlags(cmd)
	o.outputFlags.addFlags(cmd)
	o.outputFlags.addSecretsFlag(cmd)
	return cmd
}

// addApplyFlags binds the flags add and apply share: the tenant label, and
// how tenants are applied (concurrency, take-overs, conflicts, waits, dry
// runs).
func (o *AddOptions) addApplyFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Tenant.LabelKey, "tenant-label", o.Tenant.LabelKey, "Label key on the namespace whose value is the tenant name")
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "With several tenants, how many are applied at once")
	f.BoolVar(&o.Adopt, "adopt", false, "Take over an existing namespace that belongs to no tenant")
	f.BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take ownership of fields another field manager owns")
	f.BoolVar(&o.Recreate, "recreate", false, "Delete and re-create a RoleBinding whose roleRef differs (roleRef cannot be changed in place)")
	f.BoolVar(&o.Wait, "wait", false, "After applying, request a reconcile of each applied tenant and wait until its Kustomization is Ready")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits for the tenants to be Ready, and how long a converted tenant's own source and a new ResourceQuota are waited for")
	addDryRunFlag(cmd, &o.DryRun)
}

// Complete reads positional arguments, the tenant file and flag values into
// typed options.
func (o *AddOptions) Complete(cmd *cobra.Command, args []string) error {
	if file := o.Settings.Filename; file != "" && (len(args) > 0 || len(o.Namespaces) > 0 || o.Tenant.Name != "" || len(o.RemoveNamespaces) > 0) {
		return fmt.Errorf("-f %s cannot be combined with --tenant-namespace, --tenant-name, --remove-namespace or arguments: the file names the tenants", file)
	}
	// Positional arguments fill what the flags left empty, in order, so
	// "add foo sometenant" and "add --tenant-name sometenant foo" agree.
	for _, arg := range args {
		switch {
		case len(o.Namespaces) == 0:
			o.Namespaces = []string{arg}
		case o.Tenant.Name == "":
			o.Tenant.Name = arg
		default:
			return fmt.Errorf("unexpected argument %q: the namespace and name are already set by flags", arg)
		}
	}
	var err error
	if o.Tenant, err = o.Settings.Options(o.Tenant); err != nil {
		return err
	}
	if o.tenants, err = o.Settings.Tenants(o.Tenant, o.Namespaces, o.In); err != nil {
		return err
	}
	o.output, err = o.outputFlags.toOutput(o.DryRun)
	return err
}

// Validate checks every option of every tenant before anything is sent to
// the cluster.
func (o *AddOptions) Validate() error {
	if o.Settings.Filename == "" {
		if len(o.Namespaces) == 0 && len(o.RemoveNamespaces) == 0 {
			return fmt.Errorf("--tenant-namespace is required (or give NAMESPACE as the first argument, or -f FILE)")
		}
		if err := o.validateNamespaces(); err != nil {
			return err
		}
		if o.Tenant.Name == "" {
			return fmt.Errorf("--tenant-name is required (or give NAME as the second argument)")
		}
	}
	if err := validateWaitFlags(o.Concurrency, o.Timeout, o.Wait, o.DryRun); err != nil {
		return err
	}
	if err := o.Settings.Validate(o.DryRun); err != nil {
		return err
	}
	return o.Settings.ValidateTenants(o.tenants)
}

// validateNamespaces checks that each namespace is named once, and none
// both kept and removed.
func (o *AddOptions) validateNamespaces() error {
	seen := map[string]bool{}
	for _, ns := range o.Namespaces {
		if seen[ns] {
			return fmt.Errorf("invalid --tenant-namespace %q: given twice", ns)
		}
		seen[ns] = true
	}
	if len(o.RemoveNamespaces) > 0 && o.Tenant.Name == "" {
		return fmt.Errorf("--remove-namespace needs --tenant-name: only a namespace of the named tenant is removed")
	}
	if len(o.RemoveNamespaces) > 0 && o.DryRun == tenant.DryRunClient {
		return fmt.Errorf("--remove-namespace cannot be combined with --dry-run=client: whether a namespace is the tenant's is read from the cluster; use --dry-run=server")
	}
	for _, ns := range o.RemoveNamespaces {
		if err := render.ValidateNamespaceName(ns); err != nil {
			return fmt.Errorf("invalid --remove-namespace: %w", err)
		}
		if seen[ns] {
			return fmt.Errorf("invalid --remove-namespace %q: it is also given as --tenant-namespace; give it once", ns)
		}
	}
	return nil
}

// Run renders the tenants and prints them (--dry-run=client) or applies
// them: every refusal is found before the first write, so a bad tenant in
// a file leaves the cluster as it was.
func (o *AddOptions) Run(ctx context.Context) error {
	if o.DryRun == tenant.DryRunClient {
		keys, err := o.Settings.ResolveCredentials(ctx, nil, o.tenants, o.In)
		if err != nil {
			return err
		}
		o.printDeployKeys(keys)
		return o.printRendered()
	}
	c, keys, err := o.connect(ctx)
	if err != nil {
		return err
	}
	defer o.printDeployKeys(keys)
	removed, err := tenant.Removable(ctx, c, o.Tenant.LabelKey, o.Tenant.Name, o.RemoveNamespaces)
	if err != nil {
		return err
	}
	if err := o.applyTenants(ctx, c); err != nil {
		return err
	}
	if err := o.removeNamespaces(ctx, c, removed); err != nil {
		return err
	}
	o.printAdded()
	if o.Wait {
		return o.waitReady(ctx, c)
	}
	return nil
}

// connect makes the clients and reads what the tenants copy from the
// cluster: shared sources, and the credentials kept in their Secrets.
func (o *AddOptions) connect(ctx context.Context) (*tenant.Clients, tenant.TenantCredentials, error) {
	qps, burst := o.clientRate()
	c, err := newClients(o.configFlags, o.ErrOut, qps, burst)
	if err != nil {
		return nil, tenant.TenantCredentials{}, err
	}
	if err := tenant.RequireFlux(c); err != nil {
		return nil, tenant.TenantCredentials{}, err
	}
	if err := o.Settings.ResolveSources(ctx, c, o.tenants); err != nil {
		return nil, tenant.TenantCredentials{}, err
	}
	keys, err := o.Settings.ResolveCredentials(ctx, c, o.tenants, o.In)
	return c, keys, err
}

// applyTenants renders the tenants, refuses what must not be written
// before the first write, and applies them.
func (o *AddOptions) applyTenants(ctx context.Context, c *tenant.Clients) error {
	if len(o.tenants) == 0 {
		return nil
	}
	objects, err := renderAll(o.tenants)
	if err != nil {
		return err
	}
	adder, existing, err := o.preflight(ctx, c, objects)
	if err != nil {
		return err
	}
	return o.applyAll(ctx, c, adder, existing, objects)
}

// printRendered prints every tenant's objects, for --dry-run=client.
func (o *AddOptions) printRendered() error {
	objects, err := renderAll(o.tenants)
	if err != nil {
		return err
	}
	for _, objs := range objects {
		if err := o.output.printAll(o.Out, objs); err != nil {
			return err
		}
	}
	return nil
}

// preflight refuses a namespace that must not be taken over and a
// permission the caller lacks, before anything is written.
func (o *AddOptions) preflight(ctx context.Context, c *tenant.Clients, objects [][]*unstructured.Unstructured) (*tenant.Adder, map[string]metav1.Object, error) {
	existing, err := tenant.ExistingNamespaces(ctx, c, o.tenants)
	if err != nil {
		return nil, nil, err
	}
	adder := &tenant.Adder{
		Applier:              &tenant.Applier{Client: c.Dynamic, Mapper: tenant.RESTMapper(), DryRun: o.DryRun, ForceConflicts: o.ForceConflicts},
		Adopt:                o.Adopt,
		Unconfine:            o.Settings.Unconfine,
		RecreateRoleBindings: o.Recreate,
		Timeout:              o.Timeout,
		Warnings:             o.ErrOut,
		NotChecked:           o.notChecked,
	}
	for _, t := range o.tenants {
		if err := adder.CheckNamespace(t, existing[t.Namespace]); err != nil {
			return nil, nil, err
		}
	}
	if err := adder.CheckPermissions(ctx, o.tenants, existing, objects); err != nil {
		return nil, nil, err
	}
	return adder, existing, nil
}

// applyAll applies every tenant, --concurrency at a time, and prunes what
// a confined tenant's render no longer holds. Each tenant's output is
// printed as one block; after a failure no more tenants are started.
func (o *AddOptions) applyAll(ctx context.Context, c *tenant.Clients, adder *tenant.Adder, existing map[string]metav1.Object, objects [][]*unstructured.Unstructured) error {
	stale, err := tenant.StaleObjects(ctx, c, existing)
	if err != nil {
		return err
	}
	var mu sync.Mutex // serialises output, one tenant's block at a time
	// A thousand tenants take tens of seconds; a terminal shows the count.
	var bar *progress
	if len(o.tenants) > 1 {
		bar = newProgress(o.ErrOut, "Applied", len(o.tenants))
		defer bar.clear()
	}
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(o.Concurrency)
	for i, t := range o.tenants {
		if groupCtx.Err() != nil {
			break // a tenant failed: start no more
		}
		group.Go(func() error {
			var out bytes.Buffer
			err := o.applyTenant(groupCtx, adder, &out, t, objects[i], existing[t.Namespace], stale[t.Namespace])
			mu.Lock()
			defer mu.Unlock()
			if bar != nil && out.Len() > 0 {
				bar.clear() // stdout may be the same terminal
			}
			_, _ = o.Out.Write(out.Bytes())
			if bar != nil {
				bar.add(1)
			}
			return err
		})
	}
	return group.Wait()
}

// applyTenant applies and prunes one tenant, writing what the server
// returned to out.
func (o *AddOptions) applyTenant(ctx context.Context, adder *tenant.Adder, out io.Writer, t render.TenantOptions, objs []*unstructured.Unstructured, live metav1.Object, stale []tenant.ManagedObject) error {
	applied, err := adder.ApplyTenant(ctx, t, objs, live)
	for _, obj := range applied {
		if printErr := o.output.printObj(out, obj); printErr != nil && err == nil {
			err = printErr
		}
	}
	if err != nil {
		return err
	}
	pruned, err := tenant.Prune(ctx, adder.Applier, objs, stale)
	if o.output.human() {
		for _, name := range pruned {
			fmt.Fprintf(out, "%s pruned\n", name)
		}
	}
	return err
}

// removeNamespaces deletes the namespaces --remove-namespace named, each
// checked by tenant.Removable before anything was written.
func (o *AddOptions) removeNamespaces(ctx context.Context, c *tenant.Clients, removed []*metav1.PartialObjectMetadata) error {
	for _, ns := range removed {
		if err := tenant.RemoveNamespace(ctx, c, ns, o.DryRun); err != nil {
			return err
		}
		if o.output.human() {
			fmt.Fprintf(o.Out, "namespace/%s deleted from tenant %s%s\n", ns.Name, o.Tenant.Name, dryRunSuffix(o.DryRun))
		}
	}
	return nil
}

// printDeployKeys says, on stderr, what to do with the keys this run made
// for the tenants' own sources.
func (o *AddOptions) printDeployKeys(creds tenant.TenantCredentials) {
	if creds.Insecure {
		url := o.Settings.GitURL
		if url == "" {
			url = "a tenant's own source (allowInsecureHTTP in -f " + o.Settings.Filename + ")"
		}
		fmt.Fprintln(o.ErrOut, tenant.InsecureWarning(url))
	}
	keys := creds.GeneratedKeys
	for _, ns := range render.SortedKeys(keys) {
		fmt.Fprintf(o.ErrOut, "tenant %s: add this public key to %s as a read-only deploy key (the tenant can read its private half in its namespace):\n%s\n", ns, creds.SourceURLs[ns], keys[ns])
	}
}

// printAdded says what was added and where to look next.
func (o *AddOptions) printAdded() {
	if !o.output.human() || o.DryRun != tenant.DryRunNone {
		return
	}
	if len(o.tenants) == 0 {
		return
	}
	if names := namespacesOf(o.tenants); o.Settings.Filename == "" && len(names) > 1 {
		fmt.Fprintf(o.Out, "Tenant %q added in namespaces %s. Run \"kubectl tenant list --tenant-name %s\" for status.\n", o.Tenant.Name, strings.Join(names, ", "), o.Tenant.Name)
	} else if len(o.tenants) == 1 {
		t := o.tenants[0]
		fmt.Fprintf(o.Out, "Tenant %q added in namespace %q. Run \"kubectl tenant list\" or \"flux get ks --namespace %s\" for status.\n", t.Name, t.Namespace, t.Namespace)
	} else {
		fmt.Fprintf(o.Out, "%d tenants added. Run \"kubectl tenant list\" for status.\n", len(o.tenants))
	}
}

// waitReady requests a reconcile of every added tenant and waits until
// each is Ready with it, as `kubectl tenant reconcile --wait` does: the
// request tells a reconcile of this spec from an earlier one whose status
// (a failure, say) is still shown.
func (o *AddOptions) waitReady(ctx context.Context, c *tenant.Clients) error {
	fleet := &tenant.Fleet{Clients: c, KustomizationName: o.Tenant.KustomizationName, Concurrency: o.Concurrency,
		Timeout: o.Timeout, ChunkSize: tenant.DefaultChunkSize}
	namespaces := namespacesOf(o.tenants)
	requestedAt := time.Now().Format(time.RFC3339Nano)
	patched, failures := fleet.PatchAll(ctx, tenant.Operation{Reconcile: true}, namespaces, requestedAt, nil)
	notReady, err := waitReady(ctx, fleet, namespaces, patched, requestedAt, o.IOStreams, o.output)
	if err != nil {
		return err
	}
	if failures = append(failures, notReady...); len(failures) > 0 {
		if c := o.Tenant.Confinement; c != nil {
			for i, f := range failures {
				failures[i] = tenant.ExplainBySource(ctx, fleet.Clients, f, c.Source.Kind, c.Source.Name)
			}
		}
		reportFailures(o.ErrOut, failures)
		return &tenant.FailedError{Failed: len(failures), Total: len(o.tenants), What: "not Ready"}
	}
	return nil
}

// renderAll renders every tenant, in apply order.
func renderAll(tenants []render.TenantOptions) ([][]*unstructured.Unstructured, error) {
	objects := make([][]*unstructured.Unstructured, len(tenants))
	for i, t := range tenants {
		rendered, err := render.RenderTenant(t)
		if err != nil {
			return nil, err
		}
		if objects[i], err = rendered.Unstructured(); err != nil {
			return nil, err
		}
	}
	return objects, nil
}

// clientRate raises client-go's default 5 QPS for -f, where each worker
// sends five applies per tenant; a single add stays within the default.
func (o *AddOptions) clientRate() (qps float32, burst int) {
	if len(o.tenants) <= 1 {
		return 0, 0
	}
	return concurrentRate(o.Concurrency)
}

// namespacesOf lists the tenants' namespaces, in order.
func namespacesOf(tenants []render.TenantOptions) []string {
	out := make([]string, len(tenants))
	for i, t := range tenants {
		out[i] = t.Namespace
	}
	return out
}
