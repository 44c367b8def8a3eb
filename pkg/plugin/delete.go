package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

const deleteExample = `  # Delete the tenant in namespace foo
  kubectl tenant delete --tenant-namespace foo

  # Delete tenant "sometenant" and all its namespaces, and wait until they are gone
  kubectl tenant delete --tenant-name sometenant --wait

  # Show which namespaces would be deleted
  kubectl tenant delete --tenant-name sometenant --dry-run=server`

// DeleteOptions are the inputs of `kubectl tenant delete`.
type DeleteOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	// Selection names exactly one tenant: by namespace, by name or both.
	Selection *tenant.Selection
	Namespace string
	DryRun    tenant.DryRunStrategy
	Wait      bool
	Timeout   time.Duration

	output *output
}

// NewCmdDelete builds `kubectl tenant delete`.
func NewCmdDelete(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeleteOptions{
		configFlags: configFlags,
		outputFlags: newObjectOutputFlags("deleted"),
		IOStreams:   streams,
		Selection:   tenant.NewSelection(false),
		Timeout:     5 * time.Minute,
	}
	cmd := &cobra.Command{
		Use:   "delete (--tenant-namespace NAMESPACE | --tenant-name NAME)",
		Short: "Delete a tenant's namespace and everything in it",
		Long: `Delete a tenant: its namespace, and with it the tenant's ConfigMap, RBAC, Flux
Kustomization and everything Flux deployed there.

With --tenant-name, every namespace of the tenant is deleted, each named first: the
namespaces kubectl tenant made the tenant's. A namespace that only carries the
tenant's label (labelled by hand, say) is left alone and named; delete it with
--tenant-namespace. Only namespaces that carry the tenant label are deleted, and never
a namespace of the cluster or of Flux.`,
		Example: deleteExample,
		Args:    cobra.MaximumNArgs(1),
		RunE:    runCommand(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.Namespace, "tenant-namespace", "", "Namespace of the tenant to delete")
	// Not addSelectionFlags: delete names the notes itself once the outcome
	// is known, in the error when nothing else is the tenant's.
	addNameFlags(cmd, o.Selection, configFlags)
	f.BoolVar(&o.Wait, "wait", false, "Wait until the namespace is gone")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long --wait waits")
	addDryRunFlag(cmd, &o.DryRun)
	o.outputFlags.addFlags(cmd)

	complete := tenantCompletion{configFlags: configFlags, selection: o.Selection}
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return complete.namespaces(cmd, args, toComplete)
	}
	_ = cmd.RegisterFlagCompletionFunc("tenant-namespace", complete.namespaces)
	return cmd
}

// Complete takes a positional namespace, as "kubectl delete namespace NS"
// does, and builds the printer.
func (o *DeleteOptions) Complete(cmd *cobra.Command, args []string) error {
	if len(args) == 1 {
		if o.Namespace != "" {
			return fmt.Errorf("unexpected argument %q: --tenant-namespace is already %q", args[0], o.Namespace)
		}
		o.Namespace = args[0]
	}
	if o.Namespace != "" {
		o.Selection.Complete([]string{o.Namespace})
	}
	var err error
	o.output, err = o.outputFlags.toOutput(o.DryRun)
	return err
}

// Validate checks the selection before anything is sent to the cluster.
func (o *DeleteOptions) Validate() error {
	if o.Namespace == "" && o.Selection.Name == "" {
		return fmt.Errorf("give --tenant-namespace, --tenant-name or both")
	}
	if err := o.Selection.Validate(); err != nil {
		return err
	}
	if o.Wait && o.DryRun != tenant.DryRunNone {
		return fmt.Errorf("--wait cannot be combined with --dry-run=%s: nothing is deleted to wait for", o.DryRun)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: must be greater than zero", o.Timeout)
	}
	return nil
}

// Run finds the tenant's namespaces, names them, and deletes each.
func (o *DeleteOptions) Run(ctx context.Context) error {
	c, err := newClients(o.configFlags, o.ErrOut, 0, 0)
	if err != nil {
		return err
	}
	namespaces, err := o.findTenant(ctx, c)
	if err != nil {
		return err
	}
	if len(namespaces) > 1 && o.output.human() {
		names := make([]string, len(namespaces))
		for i, ns := range namespaces {
			names[i] = ns.GetName()
		}
		fmt.Fprintf(o.Out, "tenant %s has %d namespaces: %s\n", o.Selection.Name, len(names), strings.Join(names, ", "))
	}
	for _, ns := range namespaces {
		if err := o.deleteNamespace(ctx, c, ns); err != nil {
			return err
		}
	}
	if o.Wait {
		for _, ns := range namespaces {
			if err := o.waitUntilGone(ctx, c, ns.GetName()); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteNamespace deletes one tenant namespace, unless someone made it
// again since it was read, and prints it.
func (o *DeleteOptions) deleteNamespace(ctx context.Context, c *tenant.Clients, ns *unstructured.Unstructured) error {
	if o.DryRun == tenant.DryRunClient {
		return o.output.printObj(o.Out, ns)
	}
	uid := ns.GetUID()
	opts := metav1.DeleteOptions{
		// Between the look-up and the delete the namespace may have been
		// deleted and made again by someone else, maybe without the label.
		Preconditions: &metav1.Preconditions{UID: &uid},
	}
	if o.DryRun == tenant.DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if err := c.Dynamic.Resource(tenant.NamespaceGVR).Delete(ctx, ns.GetName(), opts); err != nil {
		return fmt.Errorf("deleting namespace %q: %w", ns.GetName(), err)
	}
	return o.output.printObj(o.Out, ns)
}

// findTenant returns the tenant namespaces the flags select: the one
// named, or every namespace kubectl tenant made the named tenant's.
func (o *DeleteOptions) findTenant(ctx context.Context, c *tenant.Clients) ([]*unstructured.Unstructured, error) {
	var matches []*unstructured.Unstructured
	err := o.Selection.EachObject(ctx, c, func(ns *unstructured.Unstructured) error {
		matches = append(matches, ns)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(matches) > 0 {
		for _, ns := range o.Selection.NotMembers {
			fmt.Fprintln(o.ErrOut, o.Selection.NotMemberNote(ns))
		}
	}
	if len(matches) == 0 {
		if len(o.Selection.NotMembers) > 0 {
			return nil, fmt.Errorf("tenant not found: kubectl tenant made no namespace tenant %s's; labelled by hand only: %s (delete one with --tenant-namespace)", o.Selection.Name, strings.Join(o.Selection.NotMembers, ", "))
		}
		return nil, fmt.Errorf("tenant not found: no namespace has label %s=%s", o.Selection.LabelKey, o.Selection.Name)
	}
	return matches, nil
}

func (o *DeleteOptions) waitUntilGone(ctx context.Context, c *tenant.Clients, name string) error {
	err := wait.PollUntilContextTimeout(ctx, waitPollInterval, o.Timeout, true, func(ctx context.Context) (bool, error) {
		_, err := c.Dynamic.Resource(tenant.NamespaceGVR).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("waiting for namespace %q to be deleted: %w (its finalizers may be stuck; see kubectl get namespace %s -o yaml)", name, err, name)
	}
	return nil
}

// waitPollInterval is how often --wait looks again; short enough that a
// test's namespace deletion is noticed quickly, long enough not to load the
// API server.
const waitPollInterval = 500 * time.Millisecond
