package tenant

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// Tenant is one tenant as the cluster holds it, read back into the
// options of add that would render it: what diff holds the cluster to,
// what export writes and what describe shows.
type Tenant struct {
	Namespace string
	// Settings are the tenant's options as its live objects say, hand
	// edits included: rendering them gives what runs now.
	Settings render.TenantOptions
	// Declared are the settings without the values someone changed by
	// hand: a hand-edited variable is left out, a hand-edited path or role
	// is add's default. The cluster keeps no record of the value a hand
	// edit replaced, so these are what its declarers last asked for, as
	// far as the cluster can tell.
	Declared render.TenantOptions
	Objects  Objects
	// HandEdits are the tenant's fields that only a manager other than
	// kubectl-tenant and kustomize-controller owns.
	HandEdits []HandEdit
	// declaredAnywhere is set when a declarer wrote any of the tenant's
	// objects: its objects that no declarer wrote were then made by hand.
	// A tenant no declarer wrote at all (made by the demo's recipe) is
	// taken as it is.
	declaredAnywhere bool
	// owners caches each object's parsed managedFields: settling a tenant
	// asks about the same few objects dozens of times.
	owners map[*unstructured.Unstructured][]FieldOwner
	// Inexpressible are what the tenant's declarers set that no flag of
	// add expresses; a render of Settings leaves them out.
	Inexpressible []string
}

// Objects are a tenant's live objects, nil where absent.
type Objects struct {
	Namespace      *unstructured.Unstructured
	ConfigMap      *unstructured.Unstructured
	ServiceAccount *unstructured.Unstructured
	RoleBinding    *unstructured.Unstructured
	Kustomization  *unstructured.Unstructured
	Source         *unstructured.Unstructured
	Quota          *unstructured.Unstructured
	LimitRange     *unstructured.Unstructured
	NetworkPolicy  *unstructured.Unstructured
	Secrets        []*unstructured.Unstructured
	// Others are service accounts and role bindings labelled as the
	// tenant's, Kustomizations that read tenant-vars, and sources and
	// Secrets labelled as the plugin's, that no render of the tenant holds.
	Others []*unstructured.Unstructured
}

// all lists the objects that are there, in apply order.
func (o *Objects) All() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	add := func(objs ...*unstructured.Unstructured) {
		for _, obj := range objs {
			if obj != nil {
				out = append(out, obj)
			}
		}
	}
	add(o.Namespace)
	add(o.Secrets...)
	add(o.ConfigMap, o.ServiceAccount, o.RoleBinding, o.Quota, o.LimitRange, o.NetworkPolicy, o.Source, o.Kustomization)
	return out
}

// HandEdit is a field of a tenant's object that someone changed by hand.
type HandEdit struct {
	Object  string `json:"object"`
	Field   string `json:"field"`
	Manager string `json:"manager"`
	Time    string `json:"time,omitempty"`
	// Setting is set when the field holds one of add's settings (a
	// variable, the role, path, interval or source), which Settings take
	// as live and Declared leave out.
	Setting bool `json:"setting"`
}

func (e HandEdit) String() string {
	s := fmt.Sprintf("%s: %s was set by %s", e.Object, e.Field, e.Manager)
	if e.Time != "" {
		s += " at " + e.Time
	}
	return s
}

// objectName is how reports name an object: "ConfigMap tenant-vars".
func objectName(obj *unstructured.Unstructured) string {
	return obj.GetKind() + " " + obj.GetName()
}

// Reader reads tenants back from the cluster: one paged list per kind
// for any number of tenants, so that a thousand cost a few requests.
type Reader struct {
	Clients  *Clients
	LabelKey string
	// KustomizationName, when set, names every tenant's Kustomization;
	// otherwise it is the one that reads tenant-vars.
	KustomizationName string
	ChunkSize         int64
}

// selectLive collects the selected tenant namespaces for reading back. A
// namespace being deleted is a tenant on its way out, with nothing left to
// compare or write down: it is skipped, with a note.
func SelectLive(ctx context.Context, c *Clients, s *Selection, errOut io.Writer) ([]*unstructured.Unstructured, error) {
	var namespaces []*unstructured.Unstructured
	err := s.EachObject(ctx, c, func(ns *unstructured.Unstructured) error {
		if ns.GetDeletionTimestamp() != nil {
			fmt.Fprintf(errOut, "tenant %s is being deleted: skipped\n", ns.GetName())
			return nil
		}
		namespaces = append(namespaces, ns)
		return nil
	})
	return namespaces, err
}

// liveList is one list the reader makes, and where its items go.
type liveList struct {
	gvr  schema.GroupVersionResource
	opts metav1.ListOptions
	put  func(t *Tenant, obj *unstructured.Unstructured)
}

// Read reads back the tenants of the given namespaces, as the selection
// yields them, in the same order.
func (r *Reader) Read(ctx context.Context, namespaces []*unstructured.Unstructured) ([]*Tenant, error) {
	if len(namespaces) == 0 {
		return nil, nil
	}
	tenants := make([]*Tenant, len(namespaces))
	byNamespace := make(map[string]*Tenant, len(namespaces))
	for i, ns := range namespaces {
		tenants[i] = &Tenant{Namespace: ns.GetName(), Objects: Objects{Namespace: ns}}
		byNamespace[ns.GetName()] = tenants[i]
	}
	// One tenant reads its own namespace; more read across the cluster,
	// which costs the same few requests for two tenants or ten thousand.
	names := make([]string, len(namespaces))
	for i, ns := range namespaces {
		names[i] = ns.GetName()
	}
	scope := Scope(names)
	candidates := map[string][]*unstructured.Unstructured{} // Kustomizations by namespace
	sources := map[string]*unstructured.Unstructured{}      // by namespace/kind/name
	managed := render.ManagedByLabelKey + "=" + render.ManagedByValue
	byName := func(name string, slot func(*Tenant) **unstructured.Unstructured) func(*Tenant, *unstructured.Unstructured) {
		return func(t *Tenant, obj *unstructured.Unstructured) {
			if obj.GetName() == name {
				*slot(t) = obj
			} else {
				t.Objects.Others = append(t.Objects.Others, obj)
			}
		}
	}
	// A guardrail is the object of its name, labelled or not, as check
	// judges it.
	named := func(name string) metav1.ListOptions {
		return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
	}
	lists := []liveList{
		{ConfigMapGVR, named(render.TenantVarsConfigMapName),
			func(t *Tenant, obj *unstructured.Unstructured) { t.Objects.ConfigMap = obj }},
		{ServiceAccountGVR, metav1.ListOptions{LabelSelector: render.FluxTenantLabelKey},
			func(t *Tenant, obj *unstructured.Unstructured) {
				byName(t.Namespace, func(t *Tenant) **unstructured.Unstructured { return &t.Objects.ServiceAccount })(t, obj)
			}},
		{RoleBindingGVR, metav1.ListOptions{LabelSelector: render.FluxTenantLabelKey},
			func(t *Tenant, obj *unstructured.Unstructured) {
				byName(render.ReconcilerBindingName(t.Namespace), func(t *Tenant) **unstructured.Unstructured { return &t.Objects.RoleBinding })(t, obj)
			}},
		{KustomizationGVR, metav1.ListOptions{},
			func(t *Tenant, obj *unstructured.Unstructured) {
				candidates[t.Namespace] = append(candidates[t.Namespace], obj)
			}},
		{ResourceQuotaGVR, named(render.QuotaName),
			func(t *Tenant, obj *unstructured.Unstructured) { t.Objects.Quota = obj }},
		{LimitRangeGVR, named(render.LimitRangeName),
			func(t *Tenant, obj *unstructured.Unstructured) { t.Objects.LimitRange = obj }},
		{NetworkPolicyGVR, named(render.NetworkPolicyName),
			func(t *Tenant, obj *unstructured.Unstructured) { t.Objects.NetworkPolicy = obj }},
		{SecretGVR, metav1.ListOptions{LabelSelector: managed},
			func(t *Tenant, obj *unstructured.Unstructured) {
				t.Objects.Secrets = append(t.Objects.Secrets, obj)
			}},
	}
	for _, kind := range []string{"GitRepository", "OCIRepository"} {
		lists = append(lists, liveList{SourceResource(kind), metav1.ListOptions{LabelSelector: managed},
			func(t *Tenant, obj *unstructured.Unstructured) {
				sources[t.Namespace+"/"+obj.GetKind()+"/"+obj.GetName()] = obj
			}})
	}
	var mu sync.Mutex // guards the tenants' objects, candidates and sources
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(4)
	for _, l := range lists {
		group.Go(func() error {
			return r.list(groupCtx, l.gvr, scope, l.opts, func(obj *unstructured.Unstructured) {
				mu.Lock()
				defer mu.Unlock()
				if t := byNamespace[obj.GetNamespace()]; t != nil {
					l.put(t, obj)
				}
			})
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	for _, t := range tenants {
		t.Objects.Kustomization, t.Objects.Others = r.pickKustomization(candidates[t.Namespace], t.Objects.Others)
	}
	if err := r.readUnlabelled(ctx, tenants, sources); err != nil {
		return nil, err
	}
	for _, t := range tenants {
		r.settle(t)
	}
	return tenants, nil
}

// list pages through gvr in namespace ("" for all). A kind the cluster
// does not serve (Flux's sources without Flux) has nothing to read.
func (r *Reader) list(ctx context.Context, gvr schema.GroupVersionResource, namespace string, opts metav1.ListOptions, visit func(*unstructured.Unstructured)) error {
	opts.Limit = r.ChunkSize
	err := EachPage(ctx, opts, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
		page, err := r.Clients.Dynamic.Resource(gvr).Namespace(namespace).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range page.Items {
			visit(&page.Items[i])
		}
		return page.GetContinue(), nil
	})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", gvr.GroupResource(), err)
	}
	return nil
}

// pickKustomization finds the tenant's Kustomization among its
// namespace's: the named one, else the one kubectl-tenant applied that
// reads tenant-vars, else any that reads tenant-vars. Those that also read
// tenant-vars but are not it are the tenant's extra objects; other
// Kustomizations are the tenant's own business.
func (r *Reader) pickKustomization(candidates []*unstructured.Unstructured, others []*unstructured.Unstructured) (*unstructured.Unstructured, []*unstructured.Unstructured) {
	if r.KustomizationName != "" {
		for _, ks := range candidates {
			if ks.GetName() == r.KustomizationName {
				return ks, others
			}
		}
		return nil, others
	}
	var readers []*unstructured.Unstructured
	for _, ks := range candidates {
		if readsTenantVars(ks) {
			readers = append(readers, ks)
		}
	}
	if len(readers) == 0 {
		return nil, others
	}
	slices.SortFunc(readers, func(a, b *unstructured.Unstructured) int {
		rank := func(ks *unstructured.Unstructured) int {
			switch {
			case HasDeclarer(FieldOwners(ks)):
				return 0
			case ks.GetName() == render.DefaultKustomizationName:
				return 1
			}
			return 2
		}
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
	return readers[0], append(others, readers[1:]...)
}

// readsTenantVars reports whether a Kustomization substitutes from the
// tenant-vars ConfigMap, as every tenant's does.
func readsTenantVars(ks *unstructured.Unstructured) bool {
	from, _, _ := unstructured.NestedSlice(ks.Object, "spec", "postBuild", "substituteFrom")
	for _, ref := range from {
		if m, ok := ref.(map[string]any); ok && m["kind"] == "ConfigMap" && m["name"] == render.TenantVarsConfigMapName {
			return true
		}
	}
	return false
}

// readUnlabelled gets what the labelled lists could not find: a service
// account or role binding whose tenant label was removed, and a confined
// tenant's source. A healthy fleet needs none of these requests.
func (r *Reader) readUnlabelled(ctx context.Context, tenants []*Tenant, sources map[string]*unstructured.Unstructured) error {
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(16)
	get := func(gvr schema.GroupVersionResource, namespace, name string, slot **unstructured.Unstructured) {
		group.Go(func() error {
			obj, err := r.Clients.Dynamic.Resource(gvr).Namespace(namespace).Get(groupCtx, name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
				return nil
			case err != nil:
				return fmt.Errorf("reading %s %s/%s: %w", gvr.Resource, namespace, name, err)
			}
			*slot = obj
			return nil
		})
	}
	for _, t := range tenants {
		if t.Objects.ServiceAccount == nil {
			get(ServiceAccountGVR, t.Namespace, t.Namespace, &t.Objects.ServiceAccount)
		}
		if t.Objects.RoleBinding == nil {
			get(RoleBindingGVR, t.Namespace, render.ReconcilerBindingName(t.Namespace), &t.Objects.RoleBinding)
		}
		if ref, ok := ownSourceRef(t.Objects.Kustomization); ok {
			if src := sources[t.Namespace+"/"+ref.Kind+"/"+ref.Name]; src != nil {
				t.Objects.Source = src
				delete(sources, t.Namespace+"/"+ref.Kind+"/"+ref.Name)
			} else if ref.Kind == "GitRepository" || ref.Kind == "OCIRepository" {
				get(SourceResource(ref.Kind), t.Namespace, ref.Name, &t.Objects.Source)
			}
		}
	}
	// Managed sources no Kustomization reads are left over from a change.
	for key, src := range sources {
		for _, t := range tenants {
			if key == t.Namespace+"/"+src.GetKind()+"/"+src.GetName() {
				t.Objects.Others = append(t.Objects.Others, src)
			}
		}
	}
	return group.Wait()
}

// ownSourceRef is the Kustomization's source when it is in the tenant's
// own namespace, as a confined tenant's is.
func ownSourceRef(ks *unstructured.Unstructured) (render.SourceRef, bool) {
	if ks == nil {
		return render.SourceRef{}, false
	}
	ref := SourceRefOf(ks)
	if ref.Namespace != "" && ref.Namespace != ks.GetNamespace() {
		return render.SourceRef{}, false
	}
	ref.Namespace = ""
	return ref, ref.Name != ""
}

// settle reads the settings out of a tenant's objects, notes which of
// them were changed by hand, and what no flag expresses.
func (r *Reader) settle(t *Tenant) {
	t.declaredAnywhere = slices.ContainsFunc(t.Objects.All(), func(obj *unstructured.Unstructured) bool {
		return HasDeclarer(t.OwnersOf(obj))
	})
	o := render.DefaultTenantOptions()
	o.Namespace, o.LabelKey = t.Namespace, r.LabelKey
	o.Name = t.Objects.Namespace.GetLabels()[r.LabelKey]
	ks := t.Objects.Kustomization
	serviceAccount, _, _ := unstructured.NestedString(objectOrEmpty(ks), "spec", "serviceAccountName")
	if IsConfined(t.Objects.Namespace) || serviceAccount != "" {
		o.ClusterRole = render.ConfinedClusterRole
		o.Confinement = &render.Confinement{}
	}
	d := o
	d.Vars = nil
	edited := func(obj *unstructured.Unstructured, path ...string) bool {
		return t.NoteHandEdit(obj, path, true)
	}

	if cm := t.Objects.ConfigMap; cm != nil {
		data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
		for _, k := range render.SortedKeys(data) {
			if k == render.PerTenantSubstVar {
				continue
			}
			o.Vars = setVar(o.Vars, k, data[k])
			if !edited(cm, "data", k) {
				d.Vars = setVar(d.Vars, k, data[k])
			}
		}
	}
	if rb := t.Objects.RoleBinding; rb != nil {
		kind, _, _ := unstructured.NestedString(rb.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(rb.Object, "roleRef", "name")
		if kind == "ClusterRole" && name != "" {
			o.ClusterRole = name
			if !edited(rb, "roleRef") {
				d.ClusterRole = name
			}
		} else {
			t.Inexpressible = append(t.Inexpressible, fmt.Sprintf("RoleBinding %s: binds %s %s; add binds a ClusterRole", rb.GetName(), kind, name))
		}
	}
	if ks != nil {
		o.KustomizationName, d.KustomizationName = ks.GetName(), ks.GetName()
		if path, ok, _ := unstructured.NestedString(ks.Object, "spec", "path"); ok {
			o.Path = path
			if !edited(ks, "spec", "path") {
				d.Path = path
			}
		}
		if s, ok, _ := unstructured.NestedString(ks.Object, "spec", "interval"); ok {
			if interval, err := time.ParseDuration(s); err == nil {
				o.Interval = interval
				if !edited(ks, "spec", "interval") {
					d.Interval = interval
				}
			} else {
				t.Inexpressible = append(t.Inexpressible, fmt.Sprintf("Kustomization %s: spec.interval %q is not a duration", ks.GetName(), s))
			}
		}
		if o.Confinement == nil {
			src := SourceRefOf(ks)
			if src.Validate() == nil {
				o.Source = src
				if !edited(ks, "spec", "sourceRef") {
					d.Source = src
				}
			} else {
				t.Inexpressible = append(t.Inexpressible, fmt.Sprintf("Kustomization %s: its source %s/%s is not one add can name", ks.GetName(), src.Kind, src.Name))
			}
		}
	} else if r.KustomizationName != "" {
		o.KustomizationName, d.KustomizationName = r.KustomizationName, r.KustomizationName
	}
	if o.Confinement != nil {
		o.Confinement, d.Confinement = t.readConfinement()
	}
	t.Settings, t.Declared = o, d
	t.noteDrift()
}

func objectOrEmpty(obj *unstructured.Unstructured) map[string]any {
	if obj == nil {
		return nil
	}
	return obj.Object
}

func setVar(vars map[string]string, key, value string) map[string]string {
	if vars == nil {
		vars = map[string]string{}
	}
	vars[key] = value
	return vars
}

// ownersOf parses obj's managedFields once.
func (t *Tenant) OwnersOf(obj *unstructured.Unstructured) []FieldOwner {
	if owners, ok := t.owners[obj]; ok {
		return owners
	}
	if t.owners == nil {
		t.owners = map[*unstructured.Unstructured][]FieldOwner{}
	}
	t.owners[obj] = FieldOwners(obj)
	return t.owners[obj]
}

// noteHandEdit reports whether the field at path of obj was changed by
// hand, and records it; setting says the field holds one of add's
// settings. A tenant no declarer wrote is taken as it is.
func (t *Tenant) NoteHandEdit(obj *unstructured.Unstructured, path FieldPath, setting bool) bool {
	if !t.declaredAnywhere {
		return false
	}
	editor, ok := handEditor(t.OwnersOf(obj), path)
	if !ok {
		return false
	}
	edit := HandEdit{Object: objectName(obj), Field: path.String(), Manager: editor.Manager, Setting: setting}
	if editor.Time != nil {
		edit.Time = editor.Time.UTC().Format(time.RFC3339)
	}
	i := slices.IndexFunc(t.HandEdits, func(e HandEdit) bool { return e.Object == edit.Object && e.Field == edit.Field })
	if i < 0 {
		t.HandEdits = append(t.HandEdits, edit)
	} else {
		t.HandEdits[i].Setting = t.HandEdits[i].Setting || setting
	}
	return true
}

// readConfinement reads a confined tenant's own source and guardrails,
// as live and as declared.
func (t *Tenant) readConfinement() (live, declared *render.Confinement) {
	live, declared = &render.Confinement{}, &render.Confinement{}
	if src := t.Objects.Source; src != nil {
		spec, _, _ := unstructured.NestedMap(src.Object, "spec")
		owners := t.OwnersOf(src)
		var all, decl []FieldPath
		for _, p := range LeafPaths(map[string]any{"spec": spec}) {
			if !HasDeclarer(owners) {
				all, decl = append(all, p), append(decl, p)
				continue
			}
			// Fields nobody owns are the CRD's defaults: add never set them.
			if slices.ContainsFunc(owners, func(o FieldOwner) bool { return o.Owns(p) }) {
				all = append(all, p)
				if !t.NoteHandEdit(src, p, true) {
					decl = append(decl, p)
				}
			}
		}
		live.Source = render.TenantSource{Kind: src.GetKind(), Name: src.GetName()}
		declared.Source = live.Source
		live.Source.Spec, _ = Project(src.Object, all)["spec"].(map[string]any)
		declared.Source.Spec, _ = Project(src.Object, decl)["spec"].(map[string]any)
		for _, name := range SecretNames(spec) {
			for _, secret := range t.Objects.Secrets {
				if secret.GetName() == name {
					s := readSecret(secret)
					live.Source.Secrets = append(live.Source.Secrets, s)
					declared.Source.Secrets = append(declared.Source.Secrets, s)
				}
			}
		}
	}
	if q := t.Objects.Quota; q != nil {
		hard, _, _ := unstructured.NestedStringMap(q.Object, "spec", "hard")
		for _, k := range render.SortedKeys(hard) {
			live.Quota = setVar(live.Quota, k, hard[k])
			if !t.NoteHandEdit(q, FieldPath{"spec", "hard", k}, true) {
				declared.Quota = setVar(declared.Quota, k, hard[k])
			}
		}
	}
	if lr := t.Objects.LimitRange; lr != nil {
		limits, _, _ := unstructured.NestedSlice(lr.Object, "spec", "limits")
		edited := t.NoteHandEdit(lr, FieldPath{"spec", "limits"}, true)
		for _, item := range limits {
			m, _ := item.(map[string]any)
			if m["type"] != string(corev1.LimitTypeContainer) {
				continue
			}
			requests, _, _ := unstructured.NestedStringMap(m, "defaultRequest")
			limit, _, _ := unstructured.NestedStringMap(m, "default")
			for _, name := range render.SortedKeys(requests) {
				if live.Limits == nil {
					live.Limits = map[string]render.ContainerDefault{}
				}
				live.Limits[name] = render.ContainerDefault{Request: requests[name], Limit: limit[name]}
			}
		}
		if !edited {
			declared.Limits = maps.Clone(live.Limits)
		}
	}
	if t.Objects.NetworkPolicy != nil {
		live.NetworkPolicy = render.NetworkPolicyIsolate
		declared.NetworkPolicy = render.NetworkPolicyIsolate
	}
	return live, declared
}

func readSecret(obj *unstructured.Unstructured) render.SourceSecret {
	s := render.SourceSecret{Name: obj.GetName(), Data: map[string][]byte{}}
	kind, _, _ := unstructured.NestedString(obj.Object, "type")
	s.Type = corev1.SecretType(kind)
	data, _, _ := unstructured.NestedStringMap(obj.Object, "data")
	for k, v := range data {
		if b, err := base64.StdEncoding.DecodeString(v); err == nil {
			s.Data[k] = b
		}
	}
	return s
}

// noteDrift renders the settings and compares them with the live objects
// field by field: a field the render sets that only someone else owns was
// changed by hand; a field a declarer set that the render does not hold,
// or holds with another value, is something no flag expresses.
func (t *Tenant) noteDrift() {
	rendered, err := t.Render(t.Settings)
	if err != nil {
		t.Inexpressible = append(t.Inexpressible, fmt.Sprintf("its settings do not render: %v", err))
		return
	}
	for _, live := range t.Objects.All() {
		want := FindObject(rendered, live)
		if want == nil {
			continue
		}
		owners := t.OwnersOf(live)
		wantPaths := LeafPaths(want.Object)
		for _, p := range wantPaths {
			if t.NoteHandEdit(live, p, false) || !declared(owners, p) {
				continue
			}
			got, _ := ValueAt(live.Object, p)
			value, _ := ValueAt(want.Object, p)
			if !EqualDefaulted(got, value) {
				t.addInexpressible(fmt.Sprintf("%s: %s is %s; add sets %s", objectName(live), p, CompactJSON(got), CompactJSON(value)))
			}
		}
		for _, o := range owners {
			if !isDeclarer(o) {
				continue
			}
			for _, p := range o.Leaves() {
				// An empty field (Flux applies a Namespace's spec: {}) sets nothing.
				if v, _ := ValueAt(live.Object, p); IsFluxBookkeeping(p) || isZero(v) {
					continue
				}
				if !slices.ContainsFunc(wantPaths, func(w FieldPath) bool { return HasPrefix(w, p) || HasPrefix(p, w) }) {
					t.addInexpressible(fmt.Sprintf("%s: %s was set by %s; no flag of add sets it", objectName(live), p, o.Manager))
				}
			}
		}
	}
	for _, other := range t.Objects.Others {
		t.addInexpressible(fmt.Sprintf("%s: an extra object marked as the tenant's; no flag of add makes it", objectName(other)))
	}
}

func (t *Tenant) addInexpressible(s string) {
	if !slices.Contains(t.Inexpressible, s) {
		t.Inexpressible = append(t.Inexpressible, s)
	}
}

func HasPrefix(p, prefix FieldPath) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

// render renders settings as add does, objects in apply order.
func (t *Tenant) Render(o render.TenantOptions) ([]*unstructured.Unstructured, error) {
	tenant, err := render.RenderTenant(o)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Namespace, err)
	}
	return tenant.Unstructured()
}

// findObject finds the object of obj's kind and name in objs.
func FindObject(objs []*unstructured.Unstructured, obj *unstructured.Unstructured) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == obj.GetKind() && o.GetName() == obj.GetName() && o.GetNamespace() == obj.GetNamespace() {
			return o
		}
	}
	return nil
}
