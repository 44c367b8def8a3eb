package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

const addExample = `  # Add tenant "sometenant" in namespace foo: its namespace, variables, RBAC and Kustomization
  kubectl tenant add --tenant-namespace foo --tenant-name sometenant

  # The same, positionally
  kubectl tenant add foo sometenant

  # Print the manifests for git instead of applying them (no cluster needed)
  kubectl tenant add foo sometenant --dry-run=client -o yaml > tenants/foo.yaml

  # Confine the tenant: Flux applies its manifests as the tenant's ServiceAccount
  kubectl tenant add foo sometenant --confine --var REGION=eu-west-1

  # Many tenants from a file of "namespace,name[,KEY=VALUE...]" lines (or a YAML list)
  kubectl tenant add -f tenants.csv --concurrency 16

  # Wait until Flux has applied the template to every tenant
  kubectl tenant add -f tenants.csv --wait --timeout 10m`

// AddOptions are the inputs of `kubectl tenant add`.
type AddOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	// Tenant holds the flags' values; with -f it is the template every
	// listed tenant starts from.
	Tenant         render.TenantOptions
	Filename       string
	Concurrency    int
	vars           []string
	source         string
	DryRun         DryRunStrategy
	Adopt          bool
	ForceConflicts bool
	Recreate       bool
	// Wait waits, after applying, until every tenant is Ready.
	Wait bool
	// Timeout bounds --wait, and the waits for a converted tenant's own
	// source and for a new quota to be counted.
	Timeout time.Duration
	confine confineFlags

	tenants []render.TenantOptions
	output  *output
}

// NewAddOptions returns options with the demo's defaults.
func NewAddOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *AddOptions {
	return &AddOptions{
		configFlags: configFlags,
		outputFlags: newObjectOutputFlags("serverside-applied"),
		IOStreams:   streams,
		Tenant:      render.DefaultTenantOptions(),
		source:      render.DefaultSource,
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
tenant.`,
		Example: addExample,
		Args:    cobra.MaximumNArgs(2),
		// A new namespace has nothing to complete from.
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE:              runCommand(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.Tenant.Namespace, "tenant-namespace", "", "Namespace of the tenant (a DNS-1123 label)")
	f.StringVar(&o.Tenant.Name, "tenant-name", "", "Name of the tenant (a label value)")
	f.StringVar(&o.Tenant.LabelKey, "tenant-label", o.Tenant.LabelKey, "Label key on the namespace whose value is the tenant name")
	o.addSettingFlags(cmd)
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "With -f, how many tenants are applied at once")
	f.BoolVar(&o.Adopt, "adopt", false, "Take over an existing namespace that belongs to no tenant")
	f.BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take ownership of fields another field manager owns")
	f.BoolVar(&o.Recreate, "recreate", false, "Delete and re-create a RoleBinding whose roleRef differs (roleRef cannot be changed in place)")
	f.BoolVar(&o.Wait, "wait", false, "After applying, request a reconcile of each tenant and wait until its Kustomization is Ready")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits for the tenants to be Ready, and add for a converted tenant's own source to be Ready and for a new ResourceQuota to be counted")
	addDryRunFlag(cmd, &o.DryRun)
	o.outputFlags.addFlags(cmd)
	return cmd
}

// Complete reads positional arguments, the tenant file and flag values into
// typed options.
func (o *AddOptions) Complete(cmd *cobra.Command, args []string) error {
	if o.Filename != "" && (len(args) > 0 || o.Tenant.Namespace != "" || o.Tenant.Name != "") {
		return fmt.Errorf("-f %s cannot be combined with --tenant-namespace, --tenant-name or arguments: the file names the tenants", o.Filename)
	}
	// Positional arguments fill what the flags left empty, in order, so
	// "add foo sometenant" and "add --tenant-name sometenant foo" agree.
	for _, arg := range args {
		switch {
		case o.Tenant.Namespace == "":
			o.Tenant.Namespace = arg
		case o.Tenant.Name == "":
			o.Tenant.Name = arg
		default:
			return fmt.Errorf("unexpected argument %q: the namespace and name are already set by flags", arg)
		}
	}
	if err := o.completeSettings(cmd); err != nil {
		return err
	}
	var err error
	o.output, err = o.outputFlags.toOutput(o.DryRun)
	return err
}

// settingFlags are the flags that set a tenant's options, as opposed to
// naming it or saying how to apply it; diff takes them too.
func settingFlags() []string {
	return []string{"var", "cluster-role", "kustomization-name", "source", "path", "interval", "filename",
		"confine", "unconfine", "git-url", "branch", "source-interval", "copy-source-secret", "quota", "limit-range", "network-policy"}
}

// addSettingFlags adds the flags of settingFlags.
func (o *AddOptions) addSettingFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&o.vars, "var", nil, "Extra post-build substitution variable KEY=VALUE for the tenant-vars ConfigMap (repeatable)")
	f.StringVar(&o.Tenant.ClusterRole, "cluster-role", o.Tenant.ClusterRole, "ClusterRole bound to the tenant's reconciler in its namespace")
	f.StringVar(&o.Tenant.KustomizationName, "kustomization-name", o.Tenant.KustomizationName, "Name of the tenant's Flux Kustomization")
	f.StringVar(&o.source, "source", o.source, "Flux source of the per-tenant template, in the form <kind>/<name>.<namespace>")
	f.StringVar(&o.Tenant.Path, "path", o.Tenant.Path, "Path to the per-tenant template inside the source")
	f.DurationVar(&o.Tenant.Interval, "interval", o.Tenant.Interval, "Reconcile interval of the tenant's Kustomization")
	f.StringVarP(&o.Filename, "filename", "f", "", "File listing many tenants: CSV lines namespace,name[,KEY=VALUE...] or a YAML list of {namespace, name, vars}; - reads stdin")
	o.confine.addFlags(cmd)
}

// completeSettings reads the setting flags and the tenant file into typed
// options: o.Tenant, and o.tenants with every tenant to render.
func (o *AddOptions) completeSettings(cmd *cobra.Command) error {
	if len(o.vars) > 0 {
		o.Tenant.Vars = make(map[string]string, len(o.vars))
		for _, v := range o.vars {
			key, value, err := render.ParseVar(v)
			if err != nil {
				return err
			}
			if _, dup := o.Tenant.Vars[key]; dup {
				return fmt.Errorf("invalid --var %q: variable %s is given twice", v, key)
			}
			o.Tenant.Vars[key] = value
		}
	}
	source, err := render.ParseSourceRef(o.source)
	if err != nil {
		return err
	}
	o.Tenant.Source = source
	if o.Tenant.Confinement, err = o.confine.complete(cmd, source); err != nil {
		return err
	}
	if o.Tenant.Confinement != nil && !cmd.Flags().Changed("cluster-role") {
		o.Tenant.ClusterRole = render.ConfinedClusterRole
	}
	if o.Filename != "" {
		if o.tenants, err = o.readTenantFile(); err != nil {
			return err
		}
	} else {
		o.tenants = []render.TenantOptions{o.Tenant}
	}
	return nil
}

// readTenantFile gives every listed tenant the flags' options, with the
// file's variables over the flags'.
func (o *AddOptions) readTenantFile() ([]render.TenantOptions, error) {
	var data []byte
	var err error
	if o.Filename == "-" {
		data, err = io.ReadAll(o.In)
	} else {
		data, err = os.ReadFile(o.Filename)
	}
	if err != nil {
		return nil, fmt.Errorf("reading -f %s: %w", o.Filename, err)
	}
	entries, err := render.ParseTenantList(data)
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", o.Filename, err)
	}
	tenants := make([]render.TenantOptions, len(entries))
	for i, e := range entries {
		t := o.Tenant
		t.Namespace, t.Name = e.Namespace, e.Name
		t.Vars = maps.Clone(o.Tenant.Vars)
		if len(e.Vars) > 0 && t.Vars == nil {
			t.Vars = map[string]string{}
		}
		maps.Copy(t.Vars, e.Vars)
		tenants[i] = t
	}
	return tenants, nil
}

// Validate checks every option of every tenant before anything is sent to
// the cluster.
func (o *AddOptions) Validate() error {
	if o.Filename == "" {
		if o.Tenant.Namespace == "" {
			return fmt.Errorf("--tenant-namespace is required (or give NAMESPACE as the first argument, or -f FILE)")
		}
		if o.Tenant.Name == "" {
			return fmt.Errorf("--tenant-name is required (or give NAME as the second argument)")
		}
	}
	if err := validateWaitFlags(o.Concurrency, o.Timeout, o.Wait, o.DryRun); err != nil {
		return err
	}
	if err := o.confine.validate(o.DryRun); err != nil {
		return err
	}
	for i, t := range o.tenants {
		if err := t.Validate(); err != nil {
			if o.Filename != "" {
				return fmt.Errorf("-f %s: tenant %d (%s): %w", o.Filename, i+1, t.Namespace, err)
			}
			return err
		}
	}
	return nil
}

// Run renders the tenants and prints them (--dry-run=client) or applies
// them.
func (o *AddOptions) Run(ctx context.Context) error {
	if o.DryRun == DryRunClient {
		objects, err := o.render()
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
	qps, burst := o.clientRate()
	c, err := newClients(o.configFlags, o.ErrOut, qps, burst)
	if err != nil {
		return err
	}
	if err := requireFlux(c); err != nil {
		return err
	}
	// Every tenant shares the one confinement, so the shared source is
	// read once.
	if err := o.confine.resolveSource(ctx, c, o.Tenant.Source, o.Tenant.Confinement); err != nil {
		return err
	}
	objects, err := o.render()
	if err != nil {
		return err
	}
	existing, err := o.existingNamespaces(ctx, c)
	if err != nil {
		return err
	}
	// Every refusal is found before the first write, so a bad tenant in a
	// file leaves the cluster as it was.
	for _, t := range o.tenants {
		if err := o.checkNamespace(t, existing[t.Namespace]); err != nil {
			return err
		}
	}

	a := &applier{client: c.dynamic, mapper: tenantRESTMapper(), dryRun: o.DryRun, forceConflicts: o.ForceConflicts}
	if err := o.checkPermissions(ctx, a, existing, objects); err != nil {
		return err
	}
	stale, err := o.staleConfinement(ctx, c, existing)
	if err != nil {
		return err
	}
	var mu sync.Mutex // serialises output, one tenant's block at a time
	// A thousand tenants take tens of seconds; a terminal shows the count.
	var bar *progress
	if len(o.tenants) > 1 {
		bar = newProgress(o.ErrOut, "Applied", len(o.tenants))
	}
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(o.Concurrency)
	for i, t := range o.tenants {
		if groupCtx.Err() != nil {
			break // a tenant failed: start no more
		}
		group.Go(func() error {
			var out bytes.Buffer
			err := o.applyTenant(groupCtx, a, &out, t, objects[i], existing[t.Namespace])
			if err == nil {
				err = o.prune(groupCtx, a, &out, objects[i], stale[t.Namespace])
			}
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
	err = group.Wait()
	if bar != nil {
		bar.clear()
	}
	if err != nil {
		return err
	}
	if o.output.human() && o.DryRun == DryRunNone {
		if len(o.tenants) == 1 {
			t := o.tenants[0]
			fmt.Fprintf(o.Out, "Tenant %q added in namespace %q. Run \"kubectl tenant list\" or \"flux get ks --namespace %s\" for status.\n", t.Name, t.Namespace, t.Namespace)
		} else {
			fmt.Fprintf(o.Out, "%d tenants added. Run \"kubectl tenant list\" for status.\n", len(o.tenants))
		}
	}
	if o.Wait {
		return o.waitReady(ctx, c)
	}
	return nil
}

// waitReady requests a reconcile of every added tenant and waits until
// each is Ready with it, as `kubectl tenant reconcile --wait` does: the
// request tells a reconcile of this spec from an earlier one whose status
// (a failure, say) is still shown.
func (o *AddOptions) waitReady(ctx context.Context, c *clients) error {
	r := &OperateOptions{
		IOStreams:         o.IOStreams,
		op:                reconcileOperation(),
		Selection:         newTenantSelection(false),
		KustomizationName: o.Tenant.KustomizationName,
		Concurrency:       o.Concurrency,
		Timeout:           o.Timeout,
		output:            o.output,
	}
	namespaces := make([]string, len(o.tenants))
	for i, t := range o.tenants {
		namespaces[i] = t.Namespace
	}
	requestedAt := time.Now().Format(time.RFC3339Nano)
	patched, failures := r.patchAll(ctx, c, namespaces, requestedAt)
	notReady, err := r.waitReady(ctx, c, namespaces, patched, requestedAt)
	if err != nil {
		return err
	}
	if failures = append(failures, notReady...); len(failures) > 0 {
		reportFailures(o.ErrOut, failures)
		return &tenantsFailedError{failed: len(failures), total: len(o.tenants), what: "not Ready"}
	}
	return nil
}

// render renders every tenant, in apply order.
func (o *AddOptions) render() ([][]*unstructured.Unstructured, error) {
	objects := make([][]*unstructured.Unstructured, len(o.tenants))
	for i, t := range o.tenants {
		tenant, err := render.RenderTenant(t)
		if err != nil {
			return nil, err
		}
		if objects[i], err = tenant.Unstructured(); err != nil {
			return nil, err
		}
	}
	return objects, nil
}

// checkPermissions reviews the caller's rules once per existing tenant
// namespace, and once for all new ones (which hold no RoleBindings yet, so
// the same cluster-wide rules apply to each).
func (o *AddOptions) checkPermissions(ctx context.Context, a *applier, existing map[string]metav1.Object, objects [][]*unstructured.Unstructured) error {
	checkedNew := false
	for i, t := range o.tenants {
		isNew := existing[t.Namespace] == nil
		if isNew && checkedNew {
			continue
		}
		checkedNew = checkedNew || isNew
		missing, err := a.missingPermission(ctx, t.Namespace, objects[i])
		if err != nil {
			return err
		}
		if missing != "" {
			return fmt.Errorf("missing permission: you cannot %s; adding a tenant needs create and patch on %s, so nothing was applied", missing, requiredPermissions(objects[i]))
		}
	}
	return nil
}

// clientRate raises client-go's default 5 QPS for -f, where each worker
// sends five applies per tenant; a single add stays within the default.
func (o *AddOptions) clientRate() (qps float32, burst int) {
	if len(o.tenants) <= 1 {
		return 0, 0
	}
	qps = float32(25 * o.Concurrency)
	return qps, int(2 * qps)
}

// applyTenant applies one tenant's objects in order, writing what the
// server returned to out. live is the tenant's namespace as it was, or nil.
//
// A tenant that is confined or unconfined by this run is converted in the
// same pass: its RoleBinding is re-created when its role changes, and a
// newly confined tenant's Kustomization switches to the tenant's own source
// only once that source is Ready, so the tenant keeps being reconciled.
func (o *AddOptions) applyTenant(ctx context.Context, a *applier, out io.Writer, t render.TenantOptions, objs []*unstructured.Unstructured, live metav1.Object) error {
	namespaceExists := live != nil
	converting := namespaceExists && isConfined(live) != (t.Confinement != nil)
	var created *unstructured.Unstructured // the namespace, if this run made it
	for i, obj := range objs {
		if i > 0 && !namespaceExists && o.DryRun == DryRunServer {
			// The server cannot check objects in a namespace that a dry run
			// did not create; print the rest as rendered.
			fmt.Fprintf(o.ErrOut, "Warning: namespace %q does not exist yet, so the server did not check the objects inside it\n", obj.GetNamespace())
			return o.output.printAll(out, objs[i:])
		}
		if converting && t.Confinement != nil && o.DryRun == DryRunNone && obj.GetKind() == kustomizev1.KustomizationKind {
			if err := o.waitSourceReady(ctx, a, t); err != nil {
				return err
			}
		}
		applied, err := o.applyCounted(ctx, a, obj)
		if err != nil && (o.Recreate || converting) && isImmutableRoleRef(err) {
			applied, err = a.recreate(ctx, obj)
		}
		if err != nil {
			if isImmutableRoleRef(err) {
				err = fmt.Errorf("%w (roleRef cannot change; re-run with --recreate to delete and re-create the RoleBinding)", err)
			}
			return o.rollBack(ctx, a, created, err)
		}
		if i == 0 && !namespaceExists && o.DryRun == DryRunNone {
			created = applied
		}

		if err := o.output.printObj(out, applied); err != nil {
			return err
		}
	}
	return nil
}

// rollBack deletes a namespace this run created when a later object failed,
// so a failed add leaves nothing behind; the UID precondition keeps it from
// deleting a namespace someone else re-created meanwhile.
func (o *AddOptions) rollBack(ctx context.Context, a *applier, created *unstructured.Unstructured, cause error) error {
	if created == nil {
		return cause
	}
	uid := created.GetUID()
	err := a.client.Resource(namespaceGVR).Delete(context.WithoutCancel(ctx), created.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%w; deleting namespace %q that this run created also failed: %v", cause, created.GetName(), err)
	}
	return fmt.Errorf("%w; namespace %q, which this run created, was deleted again", cause, created.GetName())
}

// existingNamespaces reads the tenants' namespaces that exist: one GET for
// one tenant, one paged LIST for a file of them. Only metadata is read, as
// protobuf, and only the file's namespaces are kept: a cluster of ten
// thousand namespaces would otherwise be held in memory as full objects.
func (o *AddOptions) existingNamespaces(ctx context.Context, c *clients) (map[string]metav1.Object, error) {
	found := map[string]metav1.Object{}
	if len(o.tenants) == 1 {
		name := o.tenants[0].Namespace
		ns, err := c.metadata.Resource(namespaceGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return found, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading namespace %q: %w", name, err)
		}
		found[name] = ns
		return found, nil
	}
	wanted := make(map[string]bool, len(o.tenants))
	for _, t := range o.tenants {
		wanted[t.Namespace] = true
	}
	err := c.eachNamespace(ctx, metav1.ListOptions{Limit: defaultChunkSize}, func(ns *metav1.PartialObjectMetadata) {
		if wanted[ns.Name] {
			found[ns.Name] = ns
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	return found, nil
}

// checkNamespace refuses a namespace that is another tenant's, or anybody's
// without --adopt, and one that is being deleted. ns is nil when the
// namespace does not exist.
func (o *AddOptions) checkNamespace(t render.TenantOptions, ns metav1.Object) error {
	if ns == nil {
		return nil
	}
	owner, labelled := ns.GetLabels()[t.LabelKey]
	switch {
	case labelled && owner != t.Name:
		return fmt.Errorf("namespace %q belongs to tenant %q (label %s), not %q; refusing to take it over", t.Namespace, owner, t.LabelKey, t.Name)
	case !labelled && !o.Adopt:
		return fmt.Errorf("namespace %q already exists and is not a tenant namespace (no %s label); pass --adopt to make it tenant %q's", t.Namespace, t.LabelKey, t.Name)
	}
	if isConfined(ns) && t.Confinement == nil && !o.confine.Unconfine {
		return fmt.Errorf("tenant %q in namespace %q is confined; adding it without --confine would loosen it: pass --confine to keep it confined, or --unconfine to loosen it on purpose", t.Name, t.Namespace)
	}
	if !isConfined(ns) && o.confine.Unconfine {
		return fmt.Errorf("--unconfine: tenant %q in namespace %q is not confined", t.Name, t.Namespace)
	}
	if ns.GetDeletionTimestamp() != nil {
		return fmt.Errorf("namespace %q is being deleted; wait until it is gone and add the tenant again", t.Namespace)
	}
	return nil
}
