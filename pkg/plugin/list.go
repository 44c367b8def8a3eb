package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

const listExample = `  # List tenants with the state of their Flux Kustomization
  kubectl tenant list

  # More columns: Kustomization, revision, suspended, age
  kubectl tenant list -o wide

  # Only some tenants, as YAML
  kubectl tenant list -l team=payments -o yaml`

var kustomizationGVR = kustomizev1.GroupVersion.WithResource("kustomizations")

// ListOptions are the inputs of `kubectl tenant list`.
type ListOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	LabelKey          string
	Selector          string
	KustomizationName string
	Output            string
	NoHeaders         bool
	ChunkSize         int64

	selector labels.Selector
}

// NewCmdList builds `kubectl tenant list`.
func NewCmdList(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ListOptions{
		configFlags:       configFlags,
		IOStreams:         streams,
		LabelKey:          render.DefaultTenantLabelKey,
		KustomizationName: render.DefaultKustomizationName,
		ChunkSize:         500,
	}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls", "get"},
		Short:   "List tenants and whether Flux has reconciled them",
		Long: `List tenant namespaces (those with the tenant label) with the namespace phase and
the Ready condition of the tenant's Flux Kustomization, as "flux get ks" shows it.`,
		Example: listExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.LabelKey, "tenant-label", o.LabelKey, "Label key on the namespace whose value is the tenant name")
	f.StringVarP(&o.Selector, "selector", "l", "", "Extra label selector on tenant namespaces (e.g. -l team=payments)")
	f.StringVar(&o.KustomizationName, "kustomization-name", o.KustomizationName, "Name of the tenants' Flux Kustomization")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: wide, yaml, json or name")
	f.BoolVar(&o.NoHeaders, "no-headers", false, "Print the table without its header")
	f.Int64Var(&o.ChunkSize, "chunk-size", o.ChunkSize, "Return large lists in chunks rather than all at once; 0 disables chunking")
	return cmd
}

// Validate checks the flags and builds the label selector.
func (o *ListOptions) Validate() error {
	switch o.Output {
	case "", "wide", "yaml", "json", "name":
	default:
		return fmt.Errorf("invalid output format %q: allowed formats are wide, yaml, json, name", o.Output)
	}
	if o.ChunkSize < 0 {
		return fmt.Errorf("invalid --chunk-size %d: must be 0 or more", o.ChunkSize)
	}
	if err := render.ValidateLabelKey(o.LabelKey); err != nil {
		return err
	}
	tenant, err := labels.NewRequirement(o.LabelKey, selection.Exists, nil)
	if err != nil {
		return fmt.Errorf("invalid --tenant-label %q: %w", o.LabelKey, err)
	}
	extra, err := labels.Parse(o.Selector)
	if err != nil {
		return fmt.Errorf("invalid selector %q: %w", o.Selector, err)
	}
	reqs, _ := extra.Requirements()
	o.selector = labels.NewSelector().Add(*tenant).Add(reqs...)
	return nil
}

// Run lists tenant namespaces and their Kustomizations, each in chunks.
func (o *ListOptions) Run(ctx context.Context) error {
	// Ten thousand tenants are forty pages; at client-go's default 5 QPS
	// most of list's time would be spent throttling itself.
	c, err := newClients(o.configFlags, o.ErrOut, 50, 100)
	if err != nil {
		return err
	}
	namespaceList := metav1.ListOptions{LabelSelector: o.selector.String(), Limit: o.ChunkSize}
	switch o.Output {
	case "yaml", "json", "name":
		namespaces, err := listAll(ctx, c.dynamic.Resource(namespaceGVR), namespaceList)
		if err != nil {
			return fmt.Errorf("listing tenant namespaces: %w", err)
		}
		return o.printObjects(namespaces)
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
		err := c.eachNamespace(groupCtx, namespaceList, func(ns *metav1.PartialObjectMetadata) {
			phase := "Active"
			if ns.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			rows = append(rows, tenantRow{namespace: ns.Name, tenant: ns.Labels[o.LabelKey], phase: phase, created: ns.CreationTimestamp.Time})
		})
		if err != nil {
			return fmt.Errorf("listing tenant namespaces: %w", err)
		}
		return nil
	})
	group.Go(func() error {
		// One list across all namespaces, filtered by name on the server,
		// costs a request per chunk instead of one per tenant.
		err := eachKustomization(groupCtx, c.config, o.KustomizationName, o.ChunkSize, func(ks *kustomizationSummary) {
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

// tenantRow is what the table shows of a tenant namespace.
type tenantRow struct {
	namespace, tenant, phase string
	created                  time.Time
}

// kustomizationState is what the table shows of a tenant's Kustomization.
type kustomizationState struct {
	ready, message, revision, suspended string
}

// kustomizationSummary is the part of a Kustomization a row shows.
// Decoding pages into it rather than into unstructured maps skips
// managedFields, spec and inventory: at ten thousand tenants that was
// most of list's CPU time, on the machine that also runs the API server.
type kustomizationSummary struct {
	Metadata struct {
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Suspend bool `json:"suspend"`
	} `json:"spec"`
	Status struct {
		LastAppliedRevision string `json:"lastAppliedRevision"`
		Conditions          []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

type kustomizationPage struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []kustomizationSummary `json:"items"`
}

// state reads the Ready condition as `flux get ks` shows it.
func (ks *kustomizationSummary) state() kustomizationState {
	state := kustomizationState{ready: "Unknown", message: "waiting to be reconciled", revision: "-", suspended: fmt.Sprint(ks.Spec.Suspend)}
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

// eachKustomization pages through the Kustomizations named name in all
// namespaces with limit/continue, so that ten thousand tenants never
// arrive, or stay, in one piece. A 404 means Flux is not installed.
func eachKustomization(ctx context.Context, config *rest.Config, name string, chunkSize int64, visit func(*kustomizationSummary)) error {
	// The dynamic client's config: JSON, and errors decoded as Status.
	client, err := rest.UnversionedRESTClientFor(dynamic.ConfigFor(config))
	if err != nil {
		return err
	}
	path := "/apis/" + kustomizationGVR.Group + "/" + kustomizationGVR.Version + "/" + kustomizationGVR.Resource
	var next string
	for {
		request := client.Get().AbsPath(path).
			Param("fieldSelector", fields.OneTermEqualSelector("metadata.name", name).String())
		if chunkSize > 0 {
			request = request.Param("limit", strconv.FormatInt(chunkSize, 10))
		}
		if next != "" {
			request = request.Param("continue", next)
		}
		body, err := request.DoRaw(ctx)
		if err != nil {
			return err
		}
		var page kustomizationPage
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("decoding a page of Kustomizations: %w", err)
		}
		for i := range page.Items {
			visit(&page.Items[i])
		}
		if next = page.Metadata.Continue; next == "" {
			return nil
		}
	}
}

func (o *ListOptions) printObjects(namespaces []*unstructured.Unstructured) error {
	var printer printers.ResourcePrinter
	switch o.Output {
	case "yaml":
		printer = &printers.YAMLPrinter{}
	case "json":
		printer = &printers.JSONPrinter{}
	default:
		printer = &printers.NamePrinter{}
	}
	printer = &printers.OmitManagedFieldsPrinter{Delegate: printer}
	if o.Output == "name" {
		for _, ns := range namespaces {
			if err := printer.PrintObj(ns, o.Out); err != nil {
				return err
			}
		}
		return nil
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}}}
	for _, ns := range namespaces {
		list.Items = append(list.Items, *ns)
	}
	return printer.PrintObj(list, o.Out)
}

func (o *ListOptions) printTable(rows []tenantRow, states map[string]kustomizationState, fluxInstalled bool) error {
	w := printers.GetNewTabWriter(o.Out)
	wide := o.Output == "wide"
	if !o.NoHeaders {
		header := "NAMESPACE\tTENANT\tSTATUS\tREADY\tMESSAGE"
		if wide {
			header += "\tKUSTOMIZATION\tREVISION\tSUSPENDED\tAGE"
		}
		fmt.Fprintln(w, header)
	}
	now := time.Now()
	for _, r := range rows {
		state, found := states[r.namespace]
		switch {
		case !fluxInstalled:
			state = kustomizationState{ready: "-", message: "Flux is not installed (run kubectl tenant bootstrap)", revision: "-", suspended: "-"}
		case !found:
			state = kustomizationState{ready: "-", message: fmt.Sprintf("Kustomization %s not found", o.KustomizationName), revision: "-", suspended: "-"}
		}
		cells := []string{r.namespace, r.tenant, r.phase, state.ready, oneLine(state.message)}
		if wide {
			cells = append(cells, o.KustomizationName, state.revision, state.suspended, duration.HumanDuration(now.Sub(r.created)))
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	return w.Flush()
}

// oneLine keeps a multi-line condition message from breaking the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// listAll collects every item of a list, page by page.
func listAll(ctx context.Context, resource dynamic.ResourceInterface, opts metav1.ListOptions) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for {
		page, err := resource.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range page.Items {
			out = append(out, &page.Items[i])
		}
		if opts.Continue = page.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}
