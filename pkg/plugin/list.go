package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

const listExample = `  # List tenants with the state of their Flux Kustomization
  kubectl tenant list

  # More columns: Kustomization, revision, age
  kubectl tenant list -o wide

  # Only some tenants, as YAML
  kubectl tenant list -l team=payments -o yaml`

var kustomizationGVR = kustomizev1.GroupVersion.WithResource("kustomizations")

// ListOptions are the inputs of `kubectl tenant list`.
type ListOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	Selection         *tenantSelection
	KustomizationName string

	output *output
}

// NewCmdList builds `kubectl tenant list`.
func NewCmdList(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ListOptions{
		configFlags:       configFlags,
		outputFlags:       newTableOutputFlags(),
		IOStreams:         streams,
		Selection:         newTenantSelection(true),
		KustomizationName: render.DefaultKustomizationName,
	}
	cmd := &cobra.Command{
		Use:     "list [NAMESPACE...]",
		Aliases: []string{"ls", "get"},
		Short:   "List tenants and whether Flux has reconciled them",
		Long: `List tenant namespaces (those with the tenant label) with the namespace phase and,
as "flux get ks" shows them, whether the tenant's Flux Kustomization is suspended and
its Ready condition. Without namespaces, --tenant-name or -l, every tenant is listed.`,
		Example: listExample,
		RunE:    runCommand(o),
	}
	o.Selection.addFlags(cmd, configFlags)
	cmd.Flags().StringVar(&o.KustomizationName, "kustomization-name", o.KustomizationName, "Name of the tenants' Flux Kustomization")
	o.outputFlags.addFlags(cmd)
	return cmd
}

// Complete takes tenant namespaces as arguments and builds the printer.
func (o *ListOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.complete(args)
	var err error
	o.output, err = o.outputFlags.toOutput(DryRunNone)
	return err
}

// Validate checks the selection.
func (o *ListOptions) Validate() error {
	return o.Selection.validate()
}

// Run lists tenant namespaces and their Kustomizations, each in chunks.
func (o *ListOptions) Run(ctx context.Context) error {
	// Ten thousand tenants are forty pages; at client-go's default 5 QPS
	// most of list's time would be spent throttling itself.
	c, err := newClients(o.configFlags, o.ErrOut, 50, 100)
	if err != nil {
		return err
	}
	if !o.output.table {
		return o.printNamespaces(ctx, c)
	}

	// The two lists are independent, so they run side by side. Only a
	// row's few strings are kept of each object, so ten thousand tenants
	// take a few megabytes, not the objects' hundred.
	var rows []tenantRow
	states := map[string]kustomizationState{}
	fluxInstalled := true
	group, groupCtx := errgroup.WithContext(ctx)
	group.Go(func() error {
		// A namespace's phase is Terminating exactly when it has a
		// deletion time, so its metadata is all a row needs.
		return o.Selection.each(groupCtx, c, func(ns *metav1.PartialObjectMetadata) error {
			phase := "Active"
			if ns.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			rows = append(rows, tenantRow{namespace: ns.Name, tenant: ns.Labels[o.Selection.LabelKey], phase: phase, created: ns.CreationTimestamp.Time})
			return nil
		})
	})
	group.Go(func() error {
		// One list across all namespaces, filtered by name on the server,
		// costs a request per chunk instead of one per tenant.
		err := eachKustomization(groupCtx, c.config, "", o.KustomizationName, o.Selection.ChunkSize, func(ks *kustomizationSummary) {
			states[ks.Metadata.Namespace] = ks.state()
		})
		if apierrors.IsNotFound(err) {
			fluxInstalled = false
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing Flux Kustomizations: %w", err)
		}
		return nil
	})
	if err := group.Wait(); err != nil {
		return err
	}
	return o.printTable(rows, states, fluxInstalled)
}

// printNamespaces prints the tenant namespaces themselves, -o name one by
// one and every other format as one List, as kubectl get does.
func (o *ListOptions) printNamespaces(ctx context.Context, c *clients) error {
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}}}
	err := o.Selection.eachObject(ctx, c, func(ns *unstructured.Unstructured) error {
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

// tenantRow is what the table shows of a tenant namespace.
type tenantRow struct {
	namespace, tenant, phase string
	created                  time.Time
}

// kustomizationState is what the table shows of a tenant's Kustomization.
type kustomizationState struct {
	ready, message, revision, suspended string
}

// kustomizationSummary is the part of a Kustomization that list's rows
// and check's judgements read. Decoding pages into it rather than into
// unstructured maps skips managedFields, the rest of spec and inventory:
// at ten thousand tenants that was most of list's CPU time, on the
// machine that also runs the API server.
type kustomizationSummary struct {
	Metadata struct {
		Namespace  string `json:"namespace"`
		Generation int64  `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		Suspend            bool   `json:"suspend"`
		ServiceAccountName string `json:"serviceAccountName"`
		SourceRef          struct {
			Kind      string `json:"kind"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"sourceRef"`
	} `json:"spec"`
	Status struct {
		ObservedGeneration     int64  `json:"observedGeneration"`
		LastAppliedRevision    string `json:"lastAppliedRevision"`
		LastHandledReconcileAt string `json:"lastHandledReconcileAt"`
		Conditions             []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// state reads suspension and the Ready condition as `flux get ks` shows
// them.
func (ks *kustomizationSummary) state() kustomizationState {
	state := kustomizationState{ready: "Unknown", message: "waiting to be reconciled", revision: "-", suspended: "False"}
	if ks.Spec.Suspend {
		state.suspended = "True"
	}
	if r := ks.Status.LastAppliedRevision; r != "" {
		state.revision = r
	}
	for _, c := range ks.Status.Conditions {
		if c.Type == "Ready" {
			state.ready, state.message = c.Status, c.Message
			break
		}
	}
	return state
}

// eachKustomization pages through the Kustomizations named name in
// namespace, or in all namespaces when it is "". A 404 means Flux is not
// installed.
func eachKustomization(ctx context.Context, config *rest.Config, namespace, name string, chunkSize int64, visit func(*kustomizationSummary)) error {
	client, err := rawClient(config)
	if err != nil {
		return err
	}
	return eachItem(ctx, client, resourcePath(kustomizationGVR, namespace), kustomizationsNamed(name, chunkSize), "Kustomizations", visit)
}

// kustomizationsNamed lists, in chunks, the Kustomizations named name:
// every tenant's has the same name, so one field selector finds them all.
func kustomizationsNamed(name string, chunkSize int64) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), Limit: chunkSize}
}

// rawClient is a REST client with the dynamic client's config (JSON, and
// errors decoded as Status), for eachItem.
func rawClient(config *rest.Config) (rest.Interface, error) {
	return rest.UnversionedRESTClientFor(dynamic.ConfigFor(config))
}

func (o *ListOptions) printTable(rows []tenantRow, states map[string]kustomizationState, fluxInstalled bool) error {
	// SUSPENDED before READY, as in `flux get ks`: a suspended tenant's
	// Ready condition is the last one Flux wrote, however old.
	header := []string{"NAMESPACE", "TENANT", "STATUS", "SUSPENDED", "READY", "MESSAGE"}
	if o.output.wide() {
		header = append(header, "KUSTOMIZATION", "REVISION", "AGE")
	}
	now := time.Now()
	cells := make([][]string, 0, len(rows))
	for _, r := range rows {
		state, found := states[r.namespace]
		switch {
		case !fluxInstalled:
			state = kustomizationState{ready: "-", message: "Flux is not installed (run kubectl tenant bootstrap)", revision: "-", suspended: "-"}
		case !found:
			state = kustomizationState{ready: "-", message: fmt.Sprintf("Kustomization %s not found", o.KustomizationName), revision: "-", suspended: "-"}
		}
		row := []string{r.namespace, r.tenant, r.phase, state.suspended, state.ready, state.message}
		if o.output.wide() {
			row = append(row, o.KustomizationName, state.revision, duration.HumanDuration(now.Sub(r.created)))
		}
		cells = append(cells, row)
	}
	return o.output.printTable(o.Out, header, cells)
}
