package tenant

import (
	"slices"
	"strings"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// Objects are a tenant's live objects: those that stand where a render of
// the tenant puts one, and the others marked as the tenant's.
type Objects struct {
	Namespace *unstructured.Unstructured
	// found are the live objects where a render puts one: one of each
	// kind and name, the Kustomization and a confined tenant's own source
	// among them.
	found []*unstructured.Unstructured
	// Others are objects marked as the tenant's (service accounts and role
	// bindings with its label, Kustomizations that read tenant-vars,
	// sources and Secrets with the plugin's label) that no render of the
	// tenant holds.
	Others []*unstructured.Unstructured
}

// Get is the tenant's live object of kind and name, or nil.
func (o *Objects) Get(kind, name string) *unstructured.Unstructured {
	for _, obj := range o.found {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	return nil
}

// OfKind are the tenant's live objects of kind.
func (o *Objects) OfKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range o.found {
		if obj.GetKind() == kind {
			out = append(out, obj)
		}
	}
	return out
}

// Set puts obj where a render puts an object of its kind and name,
// replacing what was there.
func (o *Objects) Set(obj *unstructured.Unstructured) {
	o.Remove(obj.GetKind(), obj.GetName())
	o.found = append(o.found, obj)
}

// Remove takes the object of kind and name out, as if it were absent.
func (o *Objects) Remove(kind, name string) {
	o.found = slices.DeleteFunc(o.found, func(obj *unstructured.Unstructured) bool {
		return obj.GetKind() == kind && obj.GetName() == name
	})
}

// All lists the objects that are there in apply order: the namespace,
// then each kind where render puts it.
func (o *Objects) All() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	if o.Namespace != nil {
		out = append(out, o.Namespace)
	}
	found := slices.Clone(o.found)
	slices.SortStableFunc(found, func(a, b *unstructured.Unstructured) int {
		return applyRank(a.GetKind()) - applyRank(b.GetKind())
	})
	return append(out, found...)
}

// namespace is the tenant's namespace, "" for a tenant not on the cluster.
func (o *Objects) namespace() string {
	if o.Namespace == nil {
		return ""
	}
	return o.Namespace.GetName()
}

// The objects commands ask about by name.

func (o *Objects) ConfigMap() *unstructured.Unstructured {
	return o.Get("ConfigMap", render.TenantVarsConfigMapName)
}

func (o *Objects) ServiceAccount() *unstructured.Unstructured {
	return o.Get("ServiceAccount", o.namespace())
}

func (o *Objects) RoleBinding() *unstructured.Unstructured {
	return o.Get("RoleBinding", render.ReconcilerBindingName(o.namespace()))
}

func (o *Objects) Quota() *unstructured.Unstructured {
	return o.Get("ResourceQuota", render.QuotaName)
}

func (o *Objects) LimitRange() *unstructured.Unstructured {
	return o.Get("LimitRange", render.LimitRangeName)
}

func (o *Objects) NetworkPolicy() *unstructured.Unstructured {
	return o.Get("NetworkPolicy", render.NetworkPolicyName)
}

func (o *Objects) Secrets() []*unstructured.Unstructured { return o.OfKind("Secret") }

// Kustomization is the tenant's Flux Kustomization, or nil.
func (o *Objects) Kustomization() *unstructured.Unstructured {
	if ks := o.OfKind(kustomizev1.KustomizationKind); len(ks) > 0 {
		return ks[0]
	}
	return nil
}

// Source is a confined tenant's own source, the one its Kustomization
// builds from, or nil.
func (o *Objects) Source() *unstructured.Unstructured {
	for _, obj := range o.found {
		if slices.Contains(render.TenantSourceKinds(), obj.GetKind()) {
			return obj
		}
	}
	return nil
}

// applyRank is where render puts the first object of kind in a tenant's
// apply order; kinds it never makes go last.
func applyRank(kind string) int {
	objs := catalogueObjects()
	for i, obj := range objs {
		if obj.GetKind() == kind {
			return i
		}
	}
	return len(objs)
}

// catalogueObjects renders render.Catalogue once per process: it is the
// same every time, and All sorts by it. Its objects are only read.
var catalogueObjects = sync.OnceValue(render.Catalogue)

// plainCatalogueTenant is render.PlainCatalogue, once per process.
var plainCatalogueTenant = sync.OnceValue(render.PlainCatalogue)

// catalogued is one object render makes for a tenant, as the reader looks
// for it: by kind and by a name made from the tenant's namespace.
type catalogued struct {
	gvk  schema.GroupVersionKind
	name string // with render.CatalogueNamespace where the namespace goes
	// labelled is set when render labels the object as the tenant's
	// (toolkit.fluxcd.io/tenant), which the reader lists it by.
	labelled bool
	// always is set when render makes the object for every tenant, so
	// that its absence from the labelled list means its label was taken
	// off rather than that the tenant has none.
	always bool
}

// nameIn is the object's name in the tenant of namespace ns.
func (c catalogued) nameIn(ns string) string {
	return strings.ReplaceAll(c.name, render.CatalogueNamespace, ns)
}

// catalogue lists what render makes for a tenant that the reader finds by
// name: everything but the namespace itself, the Kustomization (picked
// among its namespace's) and a confined tenant's own source and Secrets
// (found by following the references to them).
func catalogue() []catalogued {
	var out []catalogued
	plain := plainCatalogueTenant()
	for _, obj := range catalogueObjects() {
		switch kind := obj.GetKind(); {
		case kind == "Namespace" || kind == kustomizev1.KustomizationKind || kind == "Secret":
		case slices.Contains(render.TenantSourceKinds(), kind):
		default:
			_, labelled := obj.GetLabels()[render.FluxTenantLabelKey]
			always := FindObject(plain, obj) != nil
			out = append(out, catalogued{gvk: obj.GroupVersionKind(), name: obj.GetName(), labelled: labelled, always: always})
		}
	}
	return out
}

// kindList is one list the reader makes of a catalogued kind: by the
// tenant label for the objects render labels as the tenant's, by name for
// one whose name is fixed, and whole for the rest.
type kindList struct {
	gvr     schema.GroupVersionResource
	opts    metav1.ListOptions
	members []catalogued
}

// kindLists groups the catalogue by kind into the narrowest lists that
// find them: a healthy fleet's lists then return only its own objects.
func kindLists() []kindList {
	var lists []kindList
	add := func(c catalogued, opts metav1.ListOptions) {
		i := slices.IndexFunc(lists, func(l kindList) bool { return l.members[0].gvk == c.gvk && l.opts == opts })
		if i < 0 {
			plural, _ := meta.UnsafeGuessKindToResource(c.gvk)
			lists = append(lists, kindList{gvr: plural, opts: opts})
			i = len(lists) - 1
		}
		lists[i].members = append(lists[i].members, c)
	}
	for _, c := range catalogue() {
		fixed := !strings.Contains(c.name, render.CatalogueNamespace)
		switch {
		case c.labelled && !c.always && fixed:
			// A setting's object (an owners' binding, say) made by hand
			// under its name lacks the label: listed by name too, it is
			// found as the hand edit it is, without a GET per tenant.
			add(c, metav1.ListOptions{LabelSelector: render.FluxTenantLabelKey})
			add(c, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", c.name).String()})
		case c.labelled:
			add(c, metav1.ListOptions{LabelSelector: render.FluxTenantLabelKey})
		case fixed:
			// A guardrail is the object of its name, labelled or not, as
			// check judges it.
			add(c, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", c.name).String()})
		default:
			add(c, metav1.ListOptions{})
		}
	}
	return lists
}

// place puts obj, listed by l in the tenant's namespace, where the render
// puts it; an object the tenant's label marks that is not one of those is
// one of its Others, and the rest of an unfiltered list is not the
// tenant's.
func (o *Objects) place(l kindList, obj *unstructured.Unstructured) {
	ns := o.namespace()
	// A list's items carry the list's kind only when the server set it.
	obj.SetGroupVersionKind(l.members[0].gvk)
	for _, c := range l.members {
		if obj.GetName() == c.nameIn(ns) {
			o.Set(obj)
			return
		}
	}
	if l.opts.LabelSelector != "" {
		o.Others = append(o.Others, obj)
	}
}
