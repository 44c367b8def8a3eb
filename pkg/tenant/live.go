package tenant

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
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
	// Name is the tenant's name, the value of its namespace's tenant label.
	Name string
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
	// Rendered is what add makes of Settings, in apply order; nil when
	// they do not render.
	Rendered []*unstructured.Unstructured
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

// SelectLive collects the selected tenant namespaces for reading back. A
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

// SelectAll is SelectLive of every tenant namespace under labelKey: what
// a fleet file is compared with.
func SelectAll(ctx context.Context, c *Clients, labelKey string, errOut io.Writer) ([]*unstructured.Unstructured, error) {
	all := NewSelection(true)
	all.LabelKey = labelKey
	if err := all.Validate(); err != nil {
		return nil, err
	}
	return SelectLive(ctx, c, all, errOut)
}

// Read reads back the tenants of the given namespaces, as the selection
// yields them, in the same order.
func (r *Reader) Read(ctx context.Context, namespaces []*unstructured.Unstructured) ([]*Tenant, error) {
	tenants, err := r.ReadObjects(ctx, namespaces)
	if err != nil {
		return nil, err
	}
	for _, t := range tenants {
		r.settle(t)
	}
	return tenants, nil
}

// ReadObjects reads back the objects of the tenants of the given
// namespaces, without the settings they express: what check judges.
func (r *Reader) ReadObjects(ctx context.Context, namespaces []*unstructured.Unstructured) ([]*Tenant, error) {
	if len(namespaces) == 0 {
		return nil, nil
	}
	tenants := make([]*Tenant, len(namespaces))
	byNamespace := make(map[string]*Tenant, len(namespaces))
	names := make([]string, len(namespaces))
	for i, ns := range namespaces {
		tenants[i] = &Tenant{Namespace: ns.GetName(), Name: ns.GetLabels()[r.LabelKey], Objects: Objects{Namespace: ns}}
		byNamespace[ns.GetName()] = tenants[i]
		names[i] = ns.GetName()
	}
	candidates, sources, err := r.listAll(ctx, Scope(names), byNamespace)
	if err != nil {
		return nil, err
	}
	for _, t := range tenants {
		var ks *unstructured.Unstructured
		ks, t.Objects.Others = r.pickKustomization(candidates[t.Namespace], t.Objects.Others)
		if ks != nil {
			t.Objects.Set(ks)
		}
	}
	if err := r.readUnlabelled(ctx, tenants, sources); err != nil {
		return nil, err
	}
	return tenants, nil
}

// listAll makes one paged list per kind for all the tenants in scope ("" for
// every namespace, which costs the same few requests for two tenants or ten
// thousand), placing each object in its tenant. It returns each
// namespace's Kustomizations, to pick the tenant's among, and the sources
// the plugin labelled, by namespace/kind/name, to follow the
// Kustomizations' references to.
func (r *Reader) listAll(ctx context.Context, scope string, byNamespace map[string]*Tenant) (map[string][]*unstructured.Unstructured, map[string]*unstructured.Unstructured, error) {
	candidates := map[string][]*unstructured.Unstructured{} // Kustomizations by namespace
	sources := map[string]*unstructured.Unstructured{}      // by namespace/kind/name
	managed := metav1.ListOptions{LabelSelector: render.ManagedByLabelKey + "=" + render.ManagedByValue}
	type list struct {
		gvr  schema.GroupVersionResource
		opts metav1.ListOptions
		put  func(t *Tenant, obj *unstructured.Unstructured)
	}
	var lists []list
	for _, l := range kindLists() {
		lists = append(lists, list{l.gvr, l.opts, func(t *Tenant, obj *unstructured.Unstructured) { t.Objects.place(l, obj) }})
	}
	lists = append(lists,
		list{KustomizationGVR, r.kustomizationList(), func(t *Tenant, obj *unstructured.Unstructured) {
			candidates[t.Namespace] = append(candidates[t.Namespace], obj)
		}},
		list{SecretGVR, managed, func(t *Tenant, obj *unstructured.Unstructured) { t.Objects.Set(obj) }},
	)
	for _, kind := range render.TenantSourceKinds() {
		lists = append(lists, list{SourceResource(kind), managed, func(t *Tenant, obj *unstructured.Unstructured) {
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
	return candidates, sources, group.Wait()
}

// kustomizationList lists the Kustomizations of the given name, when every
// tenant's has the one name; otherwise all, to pick the one that reads
// tenant-vars.
func (r *Reader) kustomizationList() metav1.ListOptions {
	if r.KustomizationName == "" {
		return metav1.ListOptions{}
	}
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", r.KustomizationName).String()}
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

// readUnlabelled gets what the labelled lists could not find: an object
// render labels as the tenant's whose label was removed, and a confined
// tenant's source. A healthy fleet needs none of these requests.
func (r *Reader) readUnlabelled(ctx context.Context, tenants []*Tenant, sources map[string]*unstructured.Unstructured) error {
	var mu sync.Mutex // guards the tenants' objects
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(16)
	get := func(t *Tenant, gvr schema.GroupVersionResource, name string) {
		group.Go(func() error {
			obj, err := r.Clients.Dynamic.Resource(gvr).Namespace(t.Namespace).Get(groupCtx, name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
				return nil
			case err != nil:
				return fmt.Errorf("reading %s %s/%s: %w", gvr.Resource, t.Namespace, name, err)
			}
			mu.Lock()
			defer mu.Unlock()
			t.Objects.Set(obj)
			return nil
		})
	}
	lists := kindLists()
	for _, t := range tenants {
		for _, l := range lists {
			for _, c := range l.members {
				if name := c.nameIn(t.Namespace); c.labelled && c.always && t.Objects.Get(c.gvk.Kind, name) == nil {
					get(t, l.gvr, name)
				}
			}
		}
		if ref, ok := ownSourceRef(t.Objects.Kustomization()); ok {
			key := t.Namespace + "/" + ref.Kind + "/" + ref.Name
			if src := sources[key]; src != nil {
				t.Objects.Set(src)
				delete(sources, key)
			} else if slices.Contains(render.TenantSourceKinds(), ref.Kind) {
				get(t, SourceResource(ref.Kind), ref.Name)
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

// OwnersOf parses obj's managedFields once.
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

// NoteHandEdit reports whether the field at path of obj was changed by
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
	t.Rendered = rendered
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

// Render renders settings as add does, objects in apply order.
func (t *Tenant) Render(o render.TenantOptions) ([]*unstructured.Unstructured, error) {
	tenant, err := render.RenderTenant(o)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Namespace, err)
	}
	return tenant.Unstructured()
}

// FindObject finds the object of obj's kind and name in objs.
func FindObject(objs []*unstructured.Unstructured, obj *unstructured.Unstructured) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == obj.GetKind() && o.GetName() == obj.GetName() && o.GetNamespace() == obj.GetNamespace() {
			return o
		}
	}
	return nil
}
