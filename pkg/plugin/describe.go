package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/posture"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

const describeExample = `  # Describe one tenant by its namespace
  kubectl tenant describe foo

  # By tenant name, with the last 20 events
  kubectl tenant describe --tenant-name sometenant --events 20

  # Every tenant of a team, one block each
  kubectl tenant describe -l team=payments

  # The same facts for a program
  kubectl tenant describe foo -o json`

// TenantDescriptionKind names the object describe prints for -o json|yaml,
// in check's API version.
const TenantDescriptionKind = "TenantDescription"

// defaultDescribeEvents is how many events describe shows, as many as
// kubectl describe usually fits on a screen.
const defaultDescribeEvents = 10

// describeConcurrency is how many tenants describe reads at once when it
// describes several; each costs about ten requests.
const describeConcurrency = 8

var eventGVR = corev1.SchemeGroupVersion.WithResource("events")

// TenantDescription is everything describe says about one tenant. The text
// view is rendered from it and -o json|yaml prints it, so both show the
// same facts.
type TenantDescription struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Tenant     string      `json:"tenant"`
	Namespace  string      `json:"namespace"`
	Phase      string      `json:"phase"`
	Created    metav1.Time `json:"created"`
	// Team is the tenant's namespaces, and the owners and allowed sources
	// of this one.
	Team DescribedTeam `json:"team"`
	// Objects are what add makes for a tenant, present or not.
	Objects []DescribedObject `json:"objects"`
	// Kustomization is nil when the tenant has none by that name.
	Kustomization *DescribedKustomization `json:"kustomization,omitempty"`
	// Source is what the Kustomization builds from; nil without one.
	Source    *DescribedSource    `json:"source,omitempty"`
	Variables []DescribedVariable `json:"variables"`
	// HandEdits are the tenant's fields that someone other than its
	// declarers changed, as the tenant model reads them back for diff and export.
	HandEdits []tenant.HandEdit `json:"handEdits"`
	// Inexpressible are what the tenant's declarers set that no flag of
	// add expresses.
	Inexpressible []string             `json:"inexpressible"`
	Confinement   DescribedConfinement `json:"confinement"`
	// Events are the last events of the Kustomization and the namespace,
	// oldest first.
	Events []DescribedEvent `json:"events"`
}

// DescribedTeam is what check reads of a namespace as one of its tenant's
// team.
type DescribedTeam struct {
	// Namespaces are the tenant's namespaces among those described: every
	// one of them for --tenant-name.
	Namespaces []string `json:"namespaces"`
	// Owners are bound here by the tenant-owners-ROLE RoleBindings.
	Owners []render.Owner `json:"owners"`
	// AllowedSources are the URL prefixes the tenant's sources may fetch
	// from here, when AnySource is false.
	AllowedSources []string `json:"allowedSources"`
	// AnySource is set when nothing restricts the sources: no
	// tenant-policy, or one without allowedSources.
	AnySource bool `json:"anySource"`
}

// DescribedObject is one of a tenant's objects: whether it is there, and
// who manages it (the field managers of its managedFields, status writes
// left out).
type DescribedObject struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Present bool   `json:"present"`
	// Managed is true when kubectl-tenant wrote it, or Flux applied it
	// from git.
	Managed  bool     `json:"managed"`
	Managers []string `json:"managers,omitempty"`
}

// DescribedKustomization is the tenant's Flux Kustomization.
type DescribedKustomization struct {
	Name                  string               `json:"name"`
	Suspended             bool                 `json:"suspended"`
	Interval              string               `json:"interval,omitempty"`
	Path                  string               `json:"path,omitempty"`
	SourceRef             string               `json:"sourceRef"`
	ServiceAccountName    string               `json:"serviceAccountName,omitempty"`
	LastAppliedRevision   string               `json:"lastAppliedRevision,omitempty"`
	LastAttemptedRevision string               `json:"lastAttemptedRevision,omitempty"`
	Inventory             int64                `json:"inventory"`
	Conditions            []DescribedCondition `json:"conditions"`
}

// DescribedCondition is one status condition of a Flux object.
type DescribedCondition struct {
	Type               string      `json:"type"`
	Status             string      `json:"status"`
	Reason             string      `json:"reason,omitempty"`
	Message            string      `json:"message,omitempty"`
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
}

// DescribedSource is the Flux source the Kustomization builds from.
type DescribedSource struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Present   bool   `json:"present"`
	URL       string `json:"url,omitempty"`
	Revision  string `json:"revision,omitempty"`
	Ready     string `json:"ready,omitempty"`
	Message   string `json:"message,omitempty"`
}

// DescribedVariable is one post-build substitution variable and where it
// is set.
type DescribedVariable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	From  string `json:"from"`
}

// DescribedConfinement is what check reads of the tenant, and its verdicts
// (without check's probes, which ask the API server as the tenant).
type DescribedConfinement struct {
	// Confined is true when none of the tenant's own checks FAILs.
	Confined bool `json:"confined"`
	// ClusterLockedDown is true when none of the cluster's checks FAIL:
	// Flux's lockdown flags and the guardrail policy, without which a
	// confined tenant can still get out.
	ClusterLockedDown bool `json:"clusterLockedDown"`
	// ServiceAccount is what Flux applies the tenant's manifests as; empty
	// means the controller's own identity (or its default).
	ServiceAccount  string `json:"serviceAccount,omitempty"`
	SourceNamespace string `json:"sourceNamespace,omitempty"`
	Role            string `json:"role,omitempty"`
	Quota           bool   `json:"quota"`
	LimitRange      bool   `json:"limitRange"`
	NetworkPolicy   bool   `json:"networkPolicy"`
	// Checks are check's rows for the tenant, then the cluster's.
	Checks []DescribedCheck `json:"checks"`
}

// DescribedCheck is one of check's rows.
type DescribedCheck struct {
	Scope  string `json:"scope"`
	Check  string `json:"check"`
	Result string `json:"result"`
	Detail string `json:"detail"`
}

// DescribedEvent is an event as kubectl describe shows it.
type DescribedEvent struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Object  string `json:"object"`
	From    string `json:"from"`
	Message string `json:"message"`
	Count   int64  `json:"count"`
	// First and Last are when it was first and last seen.
	First metav1.Time `json:"first"`
	Last  metav1.Time `json:"last"`
}

// DescribeOptions are the inputs of `kubectl tenant describe`.
type DescribeOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	Selection         *tenant.Selection
	KustomizationName string
	Events            int

	output *output
}

// NewCmdDescribe builds `kubectl tenant describe`.
func NewCmdDescribe(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DescribeOptions{
		configFlags:       configFlags,
		outputFlags:       &outputFlags{print: genericclioptions.NewPrintFlags("")},
		IOStreams:         streams,
		Selection:         tenant.NewSelection(false),
		KustomizationName: render.DefaultKustomizationName,
		Events:            defaultDescribeEvents,
	}
	cmd := &cobra.Command{
		Use:   "describe (NAMESPACE... | --tenant-name NAME | -l SELECTOR | --all)",
		Short: "Show a tenant's objects, Flux state, variables, confinement and events",
		Long: `Describe tenants as kubectl describe does: the tenant's name, namespace phase and
age; the tenant's namespaces (all of them with --tenant-name, else those described),
the owners bound in the namespace with their roles, and the URL prefixes its sources
may fetch from ("any" when nothing restricts them); its objects and whether each is present and managed by kubectl-tenant (or
applied by Flux from git); its Kustomization's conditions, revisions, suspension and
inventory; its source's URL, revision and readiness; its substitution variables and
the fields someone changed by hand (as diff and export read them back); whether it is
confined, from the facts "kubectl tenant check" reads; and the last events of its
Kustomization and namespace, newest last.

-o json|yaml prints the same facts as a TenantDescription object (a List of them
for more than one tenant).`,
		Example: describeExample,
		RunE:    runCommand(o),
	}
	addSelectionFlags(cmd, o.Selection, configFlags)
	f := cmd.Flags()
	f.StringVar(&o.KustomizationName, "kustomization-name", o.KustomizationName, "Name of the tenants' Flux Kustomization")
	f.IntVar(&o.Events, "events", o.Events, "How many of the last events to show; 0 reads none")
	o.outputFlags.addReportFlags(cmd, "Output format. One of: (json, yaml); the default is kubectl describe's text")
	return cmd
}

// Complete takes tenant namespaces as arguments and builds the printer.
func (o *DescribeOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.Complete(args)
	var err error
	o.output, err = o.outputFlags.toReportOutput("describe", "text", []string{"", "json", "yaml"})
	return err
}

// Validate checks the selection and the flags.
func (o *DescribeOptions) Validate() error {
	if err := validateKustomizationName(o.KustomizationName); err != nil {
		return err
	}
	if o.Events < 0 {
		return fmt.Errorf("invalid --events %d: must be 0 or more", o.Events)
	}
	return o.Selection.Validate()
}

// Run reads back the selected tenants and the cluster's lockdown as check
// does (each kind once for all of them), the shared sources once each, and
// the events, and prints one description per tenant.
func (o *DescribeOptions) Run(ctx context.Context) error {
	c, err := newClients(o.configFlags, o.ErrOut, 50, 100)
	if err != nil {
		return err
	}
	// The selection first, on its own: its one-line errors (a namespace
	// that is not a tenant's) must not race the reads below.
	var namespaces []*unstructured.Unstructured
	err = o.Selection.EachObject(ctx, c, func(ns *unstructured.Unstructured) error {
		namespaces = append(namespaces, ns) // a tenant being deleted too, as Terminating
		return nil
	})
	if err != nil {
		return err
	}
	if len(namespaces) == 0 {
		if o.Selection.Name != "" {
			return fmt.Errorf("tenant not found: no namespace has label %s=%s", o.Selection.LabelKey, o.Selection.Name)
		}
		// As kubectl describe: nothing matched is not an error.
		fmt.Fprintln(o.ErrOut, "No tenants found.")
		return nil
	}
	reader := &tenant.Reader{Clients: c, LabelKey: o.Selection.LabelKey, KustomizationName: o.KustomizationName, ChunkSize: o.Selection.ChunkSize}
	facts, tenants, err := posture.Read(ctx, reader, namespaces, true)
	if err != nil {
		return err
	}
	raw, err := tenant.RawClient(c.Config)
	if err != nil {
		return err
	}
	namespaceEvents, err := o.namespaceEvents(ctx, raw, tenants)
	if err != nil {
		return err
	}
	sharedSources, err := readSharedSources(ctx, c, tenants)
	if err != nil {
		return err
	}
	r := tenantReader{raw: raw, kustomizationName: o.KustomizationName, events: o.Events, cluster: posture.ClusterRows(facts.Cluster), sharedSources: sharedSources}
	descriptions := make([]*TenantDescription, len(tenants))
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(describeConcurrency)
	for i, t := range tenants {
		group.Go(func() error {
			d, err := r.describeTenant(groupCtx, t, facts.Tenants[i], namespaceEvents[t.Namespace])
			descriptions[i] = d
			return err
		})
	}
	if err := group.Wait(); err != nil {
		return err
	}
	return o.print(descriptions, time.Now())
}

// print writes the descriptions as text, one block each with a blank line
// between, or as one object (a List of several) for -o json|yaml.
func (o *DescribeOptions) print(descriptions []*TenantDescription, now time.Time) error {
	if o.output.human() {
		for i, d := range descriptions {
			if i > 0 {
				fmt.Fprintln(o.Out)
			}
			if err := printDescription(o.Out, d, now); err != nil {
				return err
			}
		}
		return nil
	}
	objs := make([]unstructured.Unstructured, len(descriptions))
	for i, d := range descriptions {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
		if err != nil {
			return err
		}
		objs[i] = unstructured.Unstructured{Object: content}
	}
	if len(objs) == 1 {
		return o.output.printObj(o.Out, &objs[0])
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}}, Items: objs}
	return o.output.printObj(o.Out, list)
}

// namespaceEvents reads the events of the tenants' Namespace objects, which
// are recorded in whichever namespace the recorder chose (usually
// default): by name for one tenant, else one paged list for all of them.
func (o *DescribeOptions) namespaceEvents(ctx context.Context, raw rest.Interface, tenants []*tenant.Tenant) (map[string][]DescribedEvent, error) {
	out := map[string][]DescribedEvent{}
	if o.Events == 0 {
		return out, nil
	}
	selector := fields.Set{"involvedObject.kind": "Namespace"}
	if len(tenants) == 1 {
		selector["involvedObject.name"] = tenants[0].Namespace
	}
	wanted := map[string]bool{}
	for _, t := range tenants {
		wanted[t.Namespace] = true
	}
	err := eachEvent(ctx, raw, "", selector, func(e *corev1.Event) {
		if wanted[e.InvolvedObject.Name] {
			out[e.InvolvedObject.Name] = append(out[e.InvolvedObject.Name], describeEvent(e))
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachEvent pages through the core/v1 events in namespace ("" for all)
// that match selector.
func eachEvent(ctx context.Context, raw rest.Interface, namespace string, selector fields.Set, visit func(*corev1.Event)) error {
	opts := metav1.ListOptions{FieldSelector: selector.AsSelector().String(), Limit: tenant.DefaultChunkSize}
	if err := tenant.EachItem(ctx, raw, tenant.ResourcePath(eventGVR, namespace), opts, "events", visit); err != nil {
		return fmt.Errorf("listing events: %w", err)
	}
	return nil
}

// describeEvent keeps what kubectl describe shows of an event, with the
// times of both event APIs (eventTime and series come from events.k8s.io).
func describeEvent(e *corev1.Event) DescribedEvent {
	first := e.FirstTimestamp
	if !e.EventTime.IsZero() {
		first = metav1.NewTime(e.EventTime.Time)
	}
	last, count := e.LastTimestamp, int64(e.Count)
	if e.Series != nil {
		last, count = metav1.NewTime(e.Series.LastObservedTime.Time), int64(e.Series.Count)
	}
	if last.IsZero() {
		last = first
	}
	if first.IsZero() {
		first, last = e.CreationTimestamp, e.CreationTimestamp
	}
	from := e.Source.Component
	if from == "" {
		from = e.ReportingController
	}
	return DescribedEvent{
		Type: e.Type, Reason: e.Reason, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
		From: from, Message: strings.TrimSpace(e.Message), Count: max(count, 1), First: first, Last: last,
	}
}

// lastEvents sorts events by when they were last seen, oldest first, and
// keeps the last n.
func lastEvents(events []DescribedEvent, n int) []DescribedEvent {
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b DescribedEvent) int {
		if c := a.Last.Compare(b.Last.Time); c != 0 {
			return c
		}
		return a.First.Compare(b.First.Time)
	})
	if len(events) > n {
		events = events[len(events)-n:]
	}
	return events
}

// tenantReader reads what the tenant model leaves out of a tenant: its
// Kustomization's events; and holds what describe read once for all.
type tenantReader struct {
	raw               rest.Interface
	kustomizationName string
	events            int
	cluster           []posture.Row
	// sharedSources are the sources outside the tenants' namespaces that
	// their Kustomizations build from, read once each.
	sharedSources map[render.SourceRef]*unstructured.Unstructured
}

// readSharedSources reads each source outside a tenant's namespace that a
// tenant builds from, once however many tenants share it: usually one,
// GitRepository default in flux-system, for the whole fleet.
func readSharedSources(ctx context.Context, c *tenant.Clients, tenants []*tenant.Tenant) (map[render.SourceRef]*unstructured.Unstructured, error) {
	sources := map[render.SourceRef]*unstructured.Unstructured{}
	for _, t := range tenants {
		ks := t.Objects.Kustomization()
		if ks == nil || t.Objects.Source() != nil {
			continue
		}
		ref := tenant.SourceRefOf(ks).In(t.Namespace)
		if ref.Kind == "" || ref.Name == "" {
			continue
		}
		if _, read := sources[ref]; read {
			continue
		}
		obj, err := c.Dynamic.Resource(tenant.SourceResource(ref.Kind)).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading %s %s: %w", ref.Kind, ref, err)
		}
		sources[ref] = obj // nil when it is not there
	}
	return sources, nil
}

// describeTenant describes a tenant read back by the tenant model, judged
// by check's facts f.
func (r tenantReader) describeTenant(ctx context.Context, t *tenant.Tenant, f *posture.TenantFacts, namespaceEvents []DescribedEvent) (*TenantDescription, error) {
	objs := t.Objects
	ns, ks := objs.Namespace, objs.Kustomization()
	d := &TenantDescription{APIVersion: CheckReportAPIVersion, Kind: TenantDescriptionKind, Tenant: t.Settings.Name, Namespace: t.Namespace}
	source := objs.Source()
	var ref render.SourceRef
	if ks != nil {
		ref = tenant.SourceRefOf(ks).In(t.Namespace)
		if source == nil {
			source = r.sharedSources[ref]
		}
	}
	group, ctx := errgroup.WithContext(ctx)
	var kustomizationEvents []DescribedEvent
	if r.events > 0 && ks != nil {
		group.Go(func() error {
			selector := fields.Set{"involvedObject.kind": "Kustomization", "involvedObject.name": ks.GetName(), "involvedObject.namespace": t.Namespace}
			return eachEvent(ctx, r.raw, t.Namespace, selector, func(e *corev1.Event) {
				kustomizationEvents = append(kustomizationEvents, describeEvent(e))
			})
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}

	d.Phase, _, _ = unstructured.NestedString(ns.Object, "status", "phase")
	d.Created = ns.GetCreationTimestamp()
	d.Team = describeTeam(f)
	d.Objects = describeObjects(t)
	if ks != nil {
		d.Kustomization = describeKustomization(ks)
		d.Source = describeSource(ref, source)
	}
	d.Variables = describeVariables(objs.ConfigMap(), ks)
	d.HandEdits = append([]tenant.HandEdit{}, t.HandEdits...)
	d.Inexpressible = append([]string{}, t.Inexpressible...)
	d.Confinement = describeConfinement(f, r.kustomizationName, r.cluster)
	d.Events = lastEvents(append(slices.Clone(namespaceEvents), kustomizationEvents...), r.events)
	return d, nil
}

// describeObjects lists what add makes for the tenant, as a render of its
// settings holds it, each present or not, then the tenant's live objects
// that render does not make. A tenant whose settings do not render (a
// confined tenant without its source, say) is held to what add makes of
// any tenant.
func describeObjects(t *tenant.Tenant) []DescribedObject {
	rendered := t.Rendered
	if rendered == nil {
		plain := t.Settings
		plain.Confinement = nil
		rendered, _ = t.Render(plain)
	}
	var out []DescribedObject
	for _, want := range rendered {
		live := t.Objects.Get(want.GetKind(), want.GetName())
		if want.GetKind() == "Namespace" {
			live = t.Objects.Namespace
		}
		out = append(out, describeObject(want.GetKind(), want.GetName(), live, t.OwnersOf))
	}
	for _, live := range append(t.Objects.All(), t.Objects.Others...) {
		if tenant.FindObject(rendered, live) == nil {
			out = append(out, describeObject(live.GetKind(), live.GetName(), live, t.OwnersOf))
		}
	}
	return out
}

// describeObject says whether obj is there and who manages it; obj is nil
// when it is absent. Managed means a declarer wrote it: kubectl-tenant, or
// Flux applying it from git. owners parses its managedFields (a
// tenant.Tenant's cache, or fieldOwners).
func describeObject(kind, name string, obj *unstructured.Unstructured, owners func(*unstructured.Unstructured) []tenant.FieldOwner) DescribedObject {
	out := DescribedObject{Kind: kind, Name: name}
	if obj == nil {
		return out
	}
	out.Present = true
	out.Managed = tenant.HasDeclarer(owners(obj))
	for _, f := range obj.GetManagedFields() {
		// Status writes are a controller's report on the object, not a
		// claim on it.
		if f.Subresource == "" && !slices.Contains(out.Managers, f.Manager) {
			out.Managers = append(out.Managers, f.Manager)
		}
	}
	return out
}

// describeKustomization reads the Kustomization's spec and status.
func describeKustomization(ks *unstructured.Unstructured) *DescribedKustomization {
	str := func(path ...string) string {
		s, _, _ := unstructured.NestedString(ks.Object, path...)
		return s
	}
	out := &DescribedKustomization{
		Name:                  ks.GetName(),
		Interval:              str("spec", "interval"),
		Path:                  str("spec", "path"),
		ServiceAccountName:    str("spec", "serviceAccountName"),
		LastAppliedRevision:   str("status", "lastAppliedRevision"),
		LastAttemptedRevision: str("status", "lastAttemptedRevision"),
		Conditions:            describeConditions(ks),
	}
	out.Suspended, _, _ = unstructured.NestedBool(ks.Object, "spec", "suspend")
	out.SourceRef = tenant.SourceRefOf(ks).String()
	entries, _, _ := unstructured.NestedSlice(ks.Object, "status", "inventory", "entries")
	out.Inventory = int64(len(entries))
	return out
}

// describeConditions reads a Flux object's status conditions in order.
func describeConditions(obj *unstructured.Unstructured) []DescribedCondition {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	out := []DescribedCondition{}
	for _, c := range conditions {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		var cond metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &cond); err != nil {
			continue
		}
		out = append(out, DescribedCondition{Type: cond.Type, Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message, LastTransitionTime: cond.LastTransitionTime})
	}
	return out
}

// describeSource reads the Kustomization's source; src is nil when it is
// absent.
func describeSource(ref render.SourceRef, src *unstructured.Unstructured) *DescribedSource {
	out := &DescribedSource{Kind: ref.Kind, Name: ref.Name, Namespace: ref.Namespace}
	if src == nil {
		return out
	}
	out.Present = true
	out.URL, _, _ = unstructured.NestedString(src.Object, "spec", "url")
	out.Revision, _, _ = unstructured.NestedString(src.Object, "status", "artifact", "revision")
	out.Ready, out.Message = tenant.ReadinessOf(src)
	return out
}

// describeVariables lists the tenant's substitution variables, sorted:
// tenant-vars' data, and the Kustomization's inline postBuild.substitute,
// which Flux lets win over substituteFrom.
func describeVariables(configMap, ks *unstructured.Unstructured) []DescribedVariable {
	byName := map[string]DescribedVariable{}
	if configMap != nil {
		data, _, _ := unstructured.NestedStringMap(configMap.Object, "data")
		for k, v := range data {
			byName[k] = DescribedVariable{Name: k, Value: v, From: "ConfigMap/" + render.TenantVarsConfigMapName}
		}
	}
	if ks != nil {
		inline, _, _ := unstructured.NestedStringMap(ks.Object, "spec", "postBuild", "substitute")
		for k, v := range inline {
			byName[k] = DescribedVariable{Name: k, Value: v, From: "Kustomization/" + ks.GetName()}
		}
	}
	out := make([]DescribedVariable, 0, len(byName))
	for _, v := range byName {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b DescribedVariable) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// describeTeam is check's view of the namespace as one of its team's.
func describeTeam(f *posture.TenantFacts) DescribedTeam {
	out := DescribedTeam{Namespaces: []string{f.Namespace}, Owners: append([]render.Owner{}, f.Owners...),
		AllowedSources: append([]string{}, f.AllowedSources...), AnySource: f.AllowedSources == nil}
	if f.Team != nil {
		out.Namespaces = slices.Clone(f.Team.Namespaces)
	}
	return out
}

// describeConfinement is check's view of the tenant: the facts it reads and
// its verdicts on them, then the cluster's.
func describeConfinement(t *posture.TenantFacts, kustomizationName string, cluster []posture.Row) DescribedConfinement {
	out := DescribedConfinement{Quota: t.Quota, LimitRange: t.LimitRange, NetworkPolicy: t.NetworkPolicy, Confined: true, ClusterLockedDown: true, Checks: []DescribedCheck{}}
	if ks := t.Kustomization; ks != nil {
		out.ServiceAccount = ks.Spec.ServiceAccountName
		out.SourceNamespace = ks.Spec.SourceRef.In(t.Namespace).Namespace
	}
	if ref := t.RoleRef; ref != nil {
		out.Role = ref.Kind + "/" + ref.Name
	}
	for _, row := range posture.TenantRows(t, kustomizationName) {
		if row.Result == posture.Fail {
			out.Confined = false
		}
		out.Checks = append(out.Checks, DescribedCheck{Scope: row.Scope, Check: row.Check, Result: string(row.Result), Detail: row.Detail})
	}
	for _, row := range cluster {
		if row.Result == posture.Fail {
			out.ClusterLockedDown = false
		}
		out.Checks = append(out.Checks, DescribedCheck{Scope: row.Scope, Check: row.Check, Result: string(row.Result), Detail: row.Detail})
	}
	return out
}

// describeWriter writes kubectl describe's layout: "Label:\tvalue" lines,
// indented two spaces a level and aligned by a tab writer; each table is
// aligned on its own, so that a long label does not widen its columns.
type describeWriter struct {
	out io.Writer
	tw  *tabwriter.Writer
}

func newDescribeWriter(out io.Writer) *describeWriter {
	return &describeWriter{out: out, tw: newDescribeTabWriter(out)}
}

// newDescribeTabWriter has kubectl describe's settings.
func newDescribeTabWriter(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
}

func (w *describeWriter) line(level int, cells ...string) {
	fmt.Fprintln(w.tw, strings.Repeat("  ", level)+strings.Join(cells, "\t"))
}

// table writes a header, its underline and the rows, each cell on one line.
func (w *describeWriter) table(level int, header []string, rows [][]string) {
	w.flush()
	under := make([]string, len(header))
	for i, h := range header {
		under[i] = strings.Repeat("-", len(h))
	}
	w.line(level, header...)
	w.line(level, under...)
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = tenant.OneLine(c)
		}
		w.line(level, cells...)
	}
	w.flush()
}

// flush writes out what is aligned so far and starts a new alignment.
func (w *describeWriter) flush() {
	_ = w.tw.Flush()
	w.tw = newDescribeTabWriter(w.out)
}

// printDescription writes d as kubectl describe would, with ages as of now.
func printDescription(out io.Writer, d *TenantDescription, now time.Time) error {
	w := newDescribeWriter(out)
	age := func(t metav1.Time) string {
		if t.IsZero() {
			return "<unknown>"
		}
		return duration.HumanDuration(now.Sub(t.Time))
	}
	w.line(0, "Name:", d.Tenant)
	w.line(0, "Namespace:", d.Namespace)
	w.line(0, "Status:", d.Phase)
	w.line(0, "Age:", age(d.Created))
	w.line(0, "Confined:", confinedSummary(d))
	w.line(0, "Tenant Namespaces:", strings.Join(d.Team.Namespaces, ", "))
	w.line(0, "Allowed Sources:", allowedSourcesSummary(d.Team))
	section(w, 0, "Owners:", []string{"Kind", "Name", "Role"}, d.Team.Owners, func(o render.Owner) []string {
		return []string{o.Kind, o.Name, o.Role}
	})
	section(w, 0, "Objects:", []string{"Kind", "Name", "Present", "Managed", "Managers"}, d.Objects, func(o DescribedObject) []string {
		managers := strings.Join(o.Managers, ",")
		if managers == "" {
			managers = "-"
		}
		return []string{o.Kind, o.Name, yesNo(o.Present), yesNo(o.Managed), managers}
	})
	printKustomization(w, d.Kustomization, age)
	printSource(w, d.Source)
	section(w, 0, "Variables:", []string{"Name", "Value", "From"}, d.Variables, func(v DescribedVariable) []string {
		return []string{v.Name, v.Value, v.From}
	})
	section(w, 0, "Hand Edits:", []string{"Object", "Field", "Manager", "Time"}, d.HandEdits, func(e tenant.HandEdit) []string {
		return []string{e.Object, e.Field, e.Manager, orNone(e.Time)}
	})
	if len(d.Inexpressible) > 0 {
		w.line(0, "Not Expressible by add:")
		for _, x := range d.Inexpressible {
			w.line(1, tenant.OneLine(x))
		}
	}
	printConfinement(w, d.Confinement)
	section(w, 0, "Events:", []string{"Type", "Reason", "Age", "From", "Message"}, d.Events, func(e DescribedEvent) []string {
		interval := age(e.First)
		if e.Count > 1 {
			interval = fmt.Sprintf("%s (x%d over %s)", age(e.Last), e.Count, age(e.First))
		}
		return []string{e.Type, e.Reason, interval, e.From, e.Message}
	})
	return w.tw.Flush()
}

// printKustomization writes the Kustomization section; ks is nil when the
// tenant has none.
func printKustomization(w *describeWriter, ks *DescribedKustomization, age func(metav1.Time) string) {
	if ks == nil {
		w.line(0, "Kustomization:", "<none>")
		return
	}
	w.line(0, "Kustomization:", ks.Name)
	w.line(1, "Suspended:", fmt.Sprint(ks.Suspended))
	w.line(1, "Interval:", orNone(ks.Interval))
	w.line(1, "Path:", orNone(ks.Path))
	w.line(1, "Source:", ks.SourceRef)
	w.line(1, "Service Account:", orNone(ks.ServiceAccountName))
	w.line(1, "Last Applied Revision:", orNone(ks.LastAppliedRevision))
	w.line(1, "Last Attempted Revision:", orNone(ks.LastAttemptedRevision))
	inventory := fmt.Sprintf("%d entries", ks.Inventory)
	if ks.Inventory == 1 {
		inventory = "1 entry"
	}
	w.line(1, "Inventory:", inventory)
	section(w, 1, "Conditions:", []string{"Type", "Status", "Reason", "Message", "Age"}, ks.Conditions, func(c DescribedCondition) []string {
		return []string{c.Type, c.Status, c.Reason, c.Message, age(c.LastTransitionTime)}
	})
}

// printSource writes the Source section, if the tenant has a
// Kustomization to name one.
func printSource(w *describeWriter, s *DescribedSource) {
	if s == nil {
		return
	}
	w.line(0, "Source:", render.SourceRef{Kind: s.Kind, Name: s.Name, Namespace: s.Namespace}.String())
	if !s.Present {
		w.line(1, "Present:", "No")
		return
	}
	w.line(1, "URL:", orNone(s.URL))
	w.line(1, "Revision:", orNone(s.Revision))
	w.line(1, "Ready:", s.Ready)
	w.line(1, "Message:", orNone(tenant.OneLine(s.Message)))
}

// printConfinement writes check's facts and verdicts on the tenant.
func printConfinement(w *describeWriter, c DescribedConfinement) {
	w.line(0, "Confinement:")
	w.line(1, "Service Account:", orNone(c.ServiceAccount))
	w.line(1, "Source Namespace:", orNone(c.SourceNamespace))
	w.line(1, "Role:", orNone(c.Role))
	w.line(1, "Quota:", yesNo(c.Quota))
	w.line(1, "Limit Range:", yesNo(c.LimitRange))
	w.line(1, "Network Policy:", yesNo(c.NetworkPolicy))
	section(w, 1, "Checks:", []string{"Scope", "Check", "Result", "Detail"}, c.Checks, func(r DescribedCheck) []string {
		return []string{r.Scope, r.Check, r.Result, r.Detail}
	})
}

// section writes label and a table of items, one row each, or "label:
// <none>" without any.
func section[T any](w *describeWriter, level int, label string, header []string, items []T, row func(T) []string) {
	if len(items) == 0 {
		w.line(level, label, "<none>")
		return
	}
	rows := make([][]string, len(items))
	for i, item := range items {
		rows[i] = row(item)
	}
	w.line(level, label)
	w.table(level+1, header, rows)
}

// confinedSummary is the Confined line: Yes, or No with how many of the
// tenant's own checks FAIL; and whether the cluster is locked down, without
// which a confined tenant is not locked in.
func confinedSummary(d *TenantDescription) string {
	if d.Confinement.Confined {
		if !d.Confinement.ClusterLockedDown {
			return "Yes, but the cluster is not locked down (see Confinement)"
		}
		return "Yes"
	}
	failed, total := 0, 0
	for _, c := range d.Confinement.Checks {
		if c.Scope == posture.ClusterScope {
			continue
		}
		total++
		if c.Result == string(posture.Fail) {
			failed++
		}
	}
	return fmt.Sprintf("No (%d of %d tenant checks FAIL; see Confinement)", failed, total)
}

// allowedSourcesSummary is the Allowed Sources line: "any" when nothing
// restricts the tenant's sources, else their URL prefixes.
func allowedSourcesSummary(t DescribedTeam) string {
	switch {
	case t.AnySource:
		return "any"
	case len(t.AllowedSources) == 0:
		return "none (the tenant-policy allows no URL)"
	}
	return strings.Join(t.AllowedSources, ", ")
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
