package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

const addExample = `  # Add tenant "sometenant" in namespace foo, as the demo's ctrl.py did
  kubectl tenant add --tenant-namespace foo --tenant-name sometenant

  # The same, positionally
  kubectl tenant add foo sometenant

  # Print the manifests for git instead of applying them (no cluster needed)
  kubectl tenant add foo sometenant --dry-run=client -o yaml > tenants/foo.yaml

  # Confine the tenant: Flux applies its manifests as the tenant's ServiceAccount
  kubectl tenant add foo sometenant --confine --var REGION=eu-west-1`

// AddOptions are the inputs of `kubectl tenant add`.
type AddOptions struct {
	configFlags *genericclioptions.ConfigFlags
	printFlags  *printFlags
	genericiooptions.IOStreams

	Tenant         render.TenantOptions
	vars           []string
	source         string
	DryRun         DryRunStrategy
	Adopt          bool
	ForceConflicts bool

	objects []*unstructured.Unstructured
	printer printers.ResourcePrinter
}

// NewAddOptions returns options with the demo's defaults.
func NewAddOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *AddOptions {
	return &AddOptions{
		configFlags: configFlags,
		printFlags:  newPrintFlags("serverside-applied"),
		IOStreams:   streams,
		Tenant:      render.DefaultTenantOptions(),
		source:      render.DefaultSource,
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
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Tenant.Namespace, "tenant-namespace", "", "Namespace of the tenant (a DNS-1123 label)")
	f.StringVar(&o.Tenant.Name, "tenant-name", "", "Name of the tenant (a label value)")
	f.StringVar(&o.Tenant.LabelKey, "tenant-label", o.Tenant.LabelKey, "Label key on the namespace whose value is the tenant name")
	f.StringArrayVar(&o.vars, "var", nil, "Extra post-build substitution variable KEY=VALUE for the tenant-vars ConfigMap (repeatable)")
	f.StringVar(&o.Tenant.ClusterRole, "cluster-role", o.Tenant.ClusterRole, "ClusterRole bound to the tenant's reconciler in its namespace")
	f.StringVar(&o.Tenant.KustomizationName, "kustomization-name", o.Tenant.KustomizationName, "Name of the tenant's Flux Kustomization")
	f.StringVar(&o.source, "source", o.source, "Flux source of the per-tenant template, in the form <kind>/<name>.<namespace>")
	f.StringVar(&o.Tenant.Path, "path", o.Tenant.Path, "Path to the per-tenant template inside the source")
	f.DurationVar(&o.Tenant.Interval, "interval", o.Tenant.Interval, "Reconcile interval of the tenant's Kustomization")
	f.BoolVar(&o.Tenant.Confine, "confine", false, "Make Flux apply the tenant's manifests as the tenant's ServiceAccount (needs kustomize-controller with --default-service-account; see bootstrap --lockdown)")
	f.BoolVar(&o.Adopt, "adopt", false, "Take over an existing namespace that belongs to no tenant")
	f.BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take ownership of fields another field manager owns")
	addDryRunFlag(cmd, &o.DryRun)
	o.printFlags.AddFlags(cmd)
	return cmd
}

// Complete reads positional arguments and flag values into typed options.
func (o *AddOptions) Complete(cmd *cobra.Command, args []string) error {
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
	printer, err := o.printFlags.toPrinter(o.DryRun)
	if err != nil {
		return err
	}
	o.printer = printer
	return nil
}

// Validate checks every option before anything is sent to the cluster.
func (o *AddOptions) Validate() error {
	if o.Tenant.Namespace == "" {
		return fmt.Errorf("--tenant-namespace is required (or give NAMESPACE as the first argument)")
	}
	if o.Tenant.Name == "" {
		return fmt.Errorf("--tenant-name is required (or give NAME as the second argument)")
	}
	tenant, err := render.RenderTenant(o.Tenant)
	if err != nil {
		return err
	}
	objects, err := tenant.Unstructured()
	if err != nil {
		return err
	}
	o.objects = objects
	return nil
}

// Run prints the objects (--dry-run=client) or applies them.
func (o *AddOptions) Run(ctx context.Context) error {
	if o.DryRun == DryRunClient {
		return o.printAll(o.objects)
	}
	c, err := newClients(o.configFlags, o.ErrOut)
	if err != nil {
		return err
	}
	served, err := groupVersionServed(c.discovery, kustomizev1.GroupVersion, "kustomizations")
	if err != nil {
		return fmt.Errorf("checking for Flux on the cluster: %w", err)
	}
	if !served {
		return fmt.Errorf("flux is not installed on this cluster (the API serves no %s Kustomization); run \"kubectl tenant bootstrap\" first", kustomizev1.GroupVersion)
	}
	exists, err := o.checkNamespace(ctx, c)
	if err != nil {
		return err
	}

	a := &applier{client: c.dynamic, mapper: tenantRESTMapper(), dryRun: o.DryRun, forceConflicts: o.ForceConflicts}
	for i, obj := range o.objects {
		if i > 0 && !exists && o.DryRun == DryRunServer {
			// The server cannot check objects in a namespace that a dry run
			// did not create; print the rest as rendered.
			fmt.Fprintf(o.ErrOut, "Warning: namespace %q does not exist yet, so the server did not check the objects inside it\n", o.Tenant.Namespace)
			return o.printAll(o.objects[i:])
		}
		applied, err := a.apply(ctx, obj)
		if err != nil {
			return err
		}
		if err := o.printer.PrintObj(applied, o.Out); err != nil {
			return err
		}
	}
	if o.printFlags.humanOutput() && o.DryRun == DryRunNone {
		fmt.Fprintf(o.Out, "Tenant %q added in namespace %q. Run \"kubectl tenant list\" or \"flux get ks --namespace %s\" for status.\n",
			o.Tenant.Name, o.Tenant.Namespace, o.Tenant.Namespace)
	}
	return nil
}

func (o *AddOptions) printAll(objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if err := o.printer.PrintObj(obj, o.Out); err != nil {
			return err
		}
	}
	return nil
}

// checkNamespace refuses a namespace that is another tenant's, or anybody's
// without --adopt, and one that is being deleted. It reports whether the
// namespace exists.
func (o *AddOptions) checkNamespace(ctx context.Context, c *clients) (bool, error) {
	ns, err := c.dynamic.Resource(namespaceGVR).Get(ctx, o.Tenant.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading namespace %q: %w", o.Tenant.Namespace, err)
	}
	owner, labelled := ns.GetLabels()[o.Tenant.LabelKey]
	switch {
	case labelled && owner != o.Tenant.Name:
		return true, fmt.Errorf("namespace %q belongs to tenant %q (label %s), not %q; refusing to take it over", o.Tenant.Namespace, owner, o.Tenant.LabelKey, o.Tenant.Name)
	case !labelled && !o.Adopt:
		return true, fmt.Errorf("namespace %q already exists and is not a tenant namespace (no %s label); pass --adopt to make it tenant %q's", o.Tenant.Namespace, o.Tenant.LabelKey, o.Tenant.Name)
	}
	if ns.GetDeletionTimestamp() != nil {
		return true, fmt.Errorf("namespace %q is being deleted; wait until it is gone and add the tenant again", o.Tenant.Namespace)
	}
	return true, nil
}

// waitPollInterval is how often --wait looks again; short enough that a
// test's namespace deletion is noticed quickly, long enough not to load the
// API server.
const waitPollInterval = 500 * time.Millisecond
