package tenant

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// ResolveSource fills a confinement's source from the shared source on the
// cluster: its spec, with the tenant source's interval, and, with
// --copy-source-secret, its credentials. A source with credentials is
// refused without that flag, because copying them shows them to the tenant.
func (s *Settings) ResolveSource(ctx context.Context, c *Clients, shared render.SourceRef, conf *render.Confinement) error {
	if conf == nil || conf.Source.Spec != nil {
		return nil
	}
	ns := shared.Namespace
	if ns == "" {
		return fmt.Errorf("invalid --source %q: a confined tenant copies the shared source, so name its namespace (<kind>/<name>.<namespace>) or give --git-url", shared)
	}
	gvr := SourceResource(shared.Kind)
	live, err := c.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, shared.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("shared source %s not found: a confined tenant copies it; run \"kubectl tenant bootstrap\" or give --git-url", shared)
	}
	if err != nil {
		return fmt.Errorf("reading shared source %s: %w", shared, err)
	}
	spec, _, _ := unstructured.NestedMap(live.Object, "spec")
	if _, ok := spec["include"]; ok {
		return fmt.Errorf("shared source %s includes other sources (spec.include), which a tenant's copy cannot refer to across namespaces; give --git-url", shared)
	}
	spec = runtime.DeepCopyJSON(spec)
	spec["interval"] = render.ShortDuration(s.SourceInterval)
	delete(spec, "suspend")
	conf.Source.Spec = spec

	names := SecretNames(spec)
	if len(names) == 0 {
		return nil
	}
	if !s.CopySourceSecret {
		return fmt.Errorf("shared source %s reads credentials from Secret %s/%s; a confined tenant needs its own copy: pass --copy-source-secret to copy it into the tenant's namespace (the tenant can then read it), or give --git-url", shared, ns, strings.Join(names, ", "))
	}
	for _, name := range names {
		secret, err := c.Dynamic.Resource(SecretGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading Secret %s/%s of shared source %s: %w", ns, name, shared, err)
		}
		var typed corev1.Secret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(secret.Object, &typed); err != nil {
			return fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
		}
		conf.Source.Secrets = append(conf.Source.Secrets, render.SourceSecret{Name: name, Type: typed.Type, Data: typed.Data})
	}
	return nil
}

// SecretNames are the Secrets a source spec refers to, sorted.
func SecretNames(spec map[string]any) []string {
	set := map[string]bool{}
	for _, path := range [][]string{{"secretRef", "name"}, {"certSecretRef", "name"}, {"proxySecretRef", "name"}, {"verify", "secretRef", "name"}} {
		if name, _, _ := unstructured.NestedString(spec, path...); name != "" {
			set[name] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// IsConfined reports whether a live tenant namespace was confined by the
// plugin: only then does it carry the plugin's managed-by label.
func IsConfined(ns metav1.Object) bool {
	return ns.GetLabels()[render.ManagedByLabelKey] == render.ManagedByValue
}

// prunableResources are the resources of the kinds that a setting adds
// to a tenant, and that re-running add without the setting removes again.
func prunableResources() []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, gvk := range optionalKinds() {
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		out = append(out, plural)
	}
	return out
}

// ManagedObject names a live object the plugin wrote for a tenant's
// setting.
type ManagedObject struct {
	resource  schema.GroupVersionResource
	namespace string
	name      string
	uid       string
}

// StaleObjects lists, for the existing tenants among those being added,
// the objects the plugin manages that a setting added (confinement,
// owners, allowed sources), so that those the new render leaves out can be
// pruned. One paged list per kind covers any number of tenants.
func StaleObjects(ctx context.Context, c *Clients, existing map[string]metav1.Object) (map[string][]ManagedObject, error) {
	namespaces := map[string]bool{}
	var names []string
	for name, ns := range existing {
		if ns != nil {
			namespaces[name] = true
			names = append(names, name)
		}
	}
	found := map[string][]ManagedObject{}
	if len(namespaces) == 0 {
		return found, nil
	}
	scope := Scope(names)
	opts := metav1.ListOptions{LabelSelector: render.ManagedByLabelKey + "=" + render.ManagedByValue, Limit: DefaultChunkSize}
	for _, gvr := range prunableResources() {
		err := EachPage(ctx, opts, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
			page, err := c.Metadata.Resource(gvr).Namespace(scope).List(ctx, opts)
			if err != nil {
				return "", err
			}
			for _, item := range page.Items {
				if namespaces[item.Namespace] {
					found[item.Namespace] = append(found[item.Namespace], ManagedObject{gvr, item.Namespace, item.Name, string(item.UID)})
				}
			}
			return page.Continue, nil
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("listing the %s of existing tenants: %w", gvr.Resource, err)
		}
	}
	return found, nil
}

// Prune deletes the managed confinement objects that the tenant's render
// no longer holds: a guardrail left out, a source or Secret of a tenant
// that is unconfined or now builds from --git-url. It returns what it
// deleted, as resource/name.
func Prune(ctx context.Context, a *Applier, objs []*unstructured.Unstructured, live []ManagedObject) ([]string, error) {
	var pruned []string
	for _, m := range live {
		if keptByRender(objs, m) {
			continue
		}
		uid := types.UID(m.uid)
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
		if a.DryRun == DryRunServer {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		err := a.Client.Resource(m.resource).Namespace(m.namespace).Delete(ctx, m.name, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			return pruned, fmt.Errorf("pruning %s %s/%s, which the tenant no longer asks for: %w", m.resource.Resource, m.namespace, m.name, err)
		}
		pruned = append(pruned, m.resource.GroupResource().String()+"/"+m.name)
	}
	return pruned, nil
}

// keptByRender reports whether the render still holds m, or still needs
// it: a Secret that a rendered source reads is kept though not rendered,
// since the tenant now names it (--secret-ref, or a fleet file's
// secretRef, as export --format tenants writes it) rather than has it
// made from credential flags, and deleting it would break the source.
func keptByRender(objs []*unstructured.Unstructured, m ManagedObject) bool {
	return slices.ContainsFunc(objs, func(obj *unstructured.Unstructured) bool {
		plural, _ := meta.UnsafeGuessKindToResource(obj.GroupVersionKind())
		if plural.Resource == m.resource.Resource && obj.GetName() == m.name {
			return true
		}
		if m.resource != SecretGVR || !slices.Contains(render.TenantSourceKinds(), obj.GetKind()) {
			return false
		}
		spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
		return slices.Contains(SecretNames(spec), m.name)
	})
}

// sourceReadyPollInterval is how often a conversion looks at the tenant's
// new source; source-controller needs a few seconds for a first fetch.
const sourceReadyPollInterval = time.Second

// WaitSourceReady waits until the confined tenant's own source has fetched
// its artifact, so that switching the Kustomization to it never leaves the
// tenant without a source to build from.
func WaitSourceReady(ctx context.Context, a *Applier, t render.TenantOptions, timeout time.Duration) error {
	src := t.Confinement.Source
	message, err := WaitObjectReady(ctx, a.Client, SourceResource(src.Kind), t.Namespace, src.Name, timeout)
	if err != nil {
		return fmt.Errorf("the tenant's own source %s %s/%s is not Ready after %s (%s); its Kustomization still builds from %s: fix the source and run add again", src.Kind, t.Namespace, src.Name, timeout, message, t.Source)
	}
	return nil
}

// ApplyCounted applies obj, and again while quota admission says a new
// ResourceQuota is not counted yet: the API server refuses every object a
// quota covers until the quota controller has counted the quota and the
// server's own cache has seen it, and a tenant's Kustomization follows its
// new quota by milliseconds.
func ApplyCounted(ctx context.Context, a *Applier, obj *unstructured.Unstructured, timeout time.Duration) (*unstructured.Unstructured, error) {
	var applied *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, quotaPollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		applied, err = a.Apply(ctx, obj)
		if err != nil && apierrors.IsForbidden(err) && strings.Contains(err.Error(), "status unknown for quota") {
			return false, nil
		}
		return true, err
	})
	if wait.Interrupted(err) {
		return nil, fmt.Errorf("applying %s: the namespace's ResourceQuota was not counted within %s: is the cluster's quota controller running?", Describe(obj), timeout)
	}
	return applied, err
}

// quotaPollInterval is how often add retries an object that a new quota
// holds back; the quota controller counts a quota within milliseconds.
const quotaPollInterval = 100 * time.Millisecond

// ReadyCondition reports whether a Flux object is Ready for its current
// generation, with its Ready message.
func ReadyCondition(obj *unstructured.Unstructured) (bool, string) {
	status, message := ReadinessOf(obj)
	return status == "True", message
}
