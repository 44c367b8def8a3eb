package plugin

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
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

// confineFlags are add's flags for a confined tenant: its own source, a
// least-privilege role and guardrails (see render.Confinement).
type confineFlags struct {
	Confine          bool
	Unconfine        bool
	GitURL           string
	Branch           string
	SourceInterval   time.Duration
	CopySourceSecret bool
	Quota            []string
	LimitRange       []string
	NetworkPolicy    string
}

func (f *confineFlags) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVar(&f.Confine, "confine", false, "Lock the tenant in: Flux applies its manifests as the tenant's ServiceAccount, from a source in its own namespace, with the admin role by default; every object is marked as the platform's so that bootstrap --lockdown's guardrail policy keeps the tenant from changing it")
	fs.BoolVar(&f.Unconfine, "unconfine", false, "Turn a confined tenant back into an unconfined one (without it, add refuses to loosen a confined tenant)")
	fs.StringVar(&f.GitURL, "git-url", "", "With --confine, the git repository of the tenant's own source (default: copy the spec of the shared --source from the cluster)")
	fs.StringVar(&f.Branch, "branch", render.DefaultBranch, "With --confine and --git-url, the branch of the tenant's own source")
	fs.DurationVar(&f.SourceInterval, "source-interval", render.DefaultTenantSourceInterval, "With --confine, how often the tenant's own source fetches the template (every tenant fetches on its own)")
	fs.BoolVar(&f.CopySourceSecret, "copy-source-secret", false, "With --confine, copy the shared source's credentials Secret into the tenant's namespace; the tenant can then read those credentials")
	fs.StringArrayVar(&f.Quota, "quota", nil, "With --confine, a ResourceQuota limit RESOURCE=QUANTITY, e.g. pods=20 or count/kustomizations.kustomize.toolkit.fluxcd.io=5 (repeatable)")
	fs.StringArrayVar(&f.LimitRange, "limit-range", nil, "With --confine, a default container request and limit RESOURCE=REQUEST[/LIMIT], e.g. cpu=100m/500m (repeatable)")
	fs.StringVar(&f.NetworkPolicy, "network-policy", "", `With --confine, "isolate": ingress only from the tenant's namespace and flux-system, egress only to the namespace and DNS`)
}

// confinementOnly are the flags that mean nothing without --confine.
func (f *confineFlags) confinementOnly(cmd *cobra.Command) []string {
	var set []string
	for _, name := range []string{"git-url", "branch", "source-interval", "copy-source-secret", "quota", "limit-range", "network-policy"} {
		if cmd.Flags().Changed(name) {
			set = append(set, "--"+name)
		}
	}
	return set
}

// complete builds the tenant's confinement from the flags. The source is
// left for resolveSource when it is to be copied from the cluster.
func (f *confineFlags) complete(cmd *cobra.Command, shared render.SourceRef) (*render.Confinement, error) {
	if f.Confine && f.Unconfine {
		return nil, fmt.Errorf("--confine and --unconfine cannot be combined: give the one you mean")
	}
	if !f.Confine {
		if set := f.confinementOnly(cmd); len(set) > 0 {
			return nil, fmt.Errorf("%s only apply to a confined tenant: add --confine", strings.Join(set, ", "))
		}
		return nil, nil
	}
	c := &render.Confinement{
		Source:        render.TenantSource{Kind: shared.Kind, Name: shared.Name},
		Quota:         map[string]string{},
		Limits:        map[string]render.ContainerDefault{},
		NetworkPolicy: f.NetworkPolicy,
	}
	if f.GitURL != "" {
		c.Source.Kind = "GitRepository"
		c.Source.Spec = render.GitSourceSpec(f.GitURL, f.Branch, f.SourceInterval, render.DefaultIgnorePaths())
	}
	for _, q := range f.Quota {
		key, value, err := render.ParseQuota(q)
		if err != nil {
			return nil, err
		}
		if _, dup := c.Quota[key]; dup {
			return nil, fmt.Errorf("invalid --quota %q: %s is given twice", q, key)
		}
		c.Quota[key] = value
	}
	for _, l := range f.LimitRange {
		name, d, err := render.ParseLimit(l)
		if err != nil {
			return nil, err
		}
		if _, dup := c.Limits[name]; dup {
			return nil, fmt.Errorf("invalid --limit-range %q: %s is given twice", l, name)
		}
		c.Limits[name] = d
	}
	return c, nil
}

// validate checks what the flags alone can tell.
func (f *confineFlags) validate(dryRun DryRunStrategy) error {
	if !f.Confine {
		return nil
	}
	if f.GitURL == "" && dryRun == DryRunClient {
		return fmt.Errorf("--confine with --dry-run=client needs --git-url: without it the tenant's source is copied from the cluster")
	}
	if f.GitURL != "" && f.CopySourceSecret {
		return fmt.Errorf("--copy-source-secret copies the shared source's Secret, which --git-url does not use: give one of them")
	}
	if f.SourceInterval <= 0 {
		return fmt.Errorf("invalid --source-interval %s: must be greater than zero", f.SourceInterval)
	}
	return nil
}

var sourceGroupVersion = schema.GroupVersion{Group: "source.toolkit.fluxcd.io", Version: "v1"}

// sourceResource is the resource of a Flux source kind: gitrepositories
// for GitRepository.
func sourceResource(kind string) schema.GroupVersionResource {
	plural, _ := meta.UnsafeGuessKindToResource(sourceGroupVersion.WithKind(kind))
	return plural
}

// resolveSource fills a confinement's source from the shared source on the
// cluster: its spec, with the tenant source's interval, and, with
// --copy-source-secret, its credentials. A source with credentials is
// refused without that flag, because copying them shows them to the tenant.
func (f *confineFlags) resolveSource(ctx context.Context, c *clients, shared render.SourceRef, conf *render.Confinement) error {
	if conf == nil || conf.Source.Spec != nil {
		return nil
	}
	ns := shared.Namespace
	if ns == "" {
		return fmt.Errorf("invalid --source %q: a confined tenant copies the shared source, so name its namespace (<kind>/<name>.<namespace>) or give --git-url", shared)
	}
	gvr := sourceResource(shared.Kind)
	live, err := c.dynamic.Resource(gvr).Namespace(ns).Get(ctx, shared.Name, metav1.GetOptions{})
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
	spec["interval"] = render.ShortDuration(f.SourceInterval)
	delete(spec, "suspend")
	conf.Source.Spec = spec

	names := secretNames(spec)
	if len(names) == 0 {
		return nil
	}
	if !f.CopySourceSecret {
		return fmt.Errorf("shared source %s reads credentials from Secret %s/%s; a confined tenant needs its own copy: pass --copy-source-secret to copy it into the tenant's namespace (the tenant can then read it), or give --git-url", shared, ns, strings.Join(names, ", "))
	}
	for _, name := range names {
		secret, err := c.dynamic.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
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

// secretNames are the Secrets a source spec refers to, sorted.
func secretNames(spec map[string]any) []string {
	set := map[string]bool{}
	for _, path := range [][]string{{"secretRef", "name"}, {"certSecretRef", "name"}, {"proxySecretRef", "name"}, {"verify", "secretRef", "name"}} {
		if name, _, _ := unstructured.NestedString(spec, path...); name != "" {
			set[name] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// isConfined reports whether a live tenant namespace was confined by the
// plugin: only then does it carry the plugin's managed-by label.
func isConfined(ns metav1.Object) bool {
	return ns.GetLabels()[render.ManagedByLabelKey] == render.ManagedByValue
}

// prunableResources are the resources of the kinds that only confinement
// adds to a tenant, and that re-running add without the flag that made
// them removes again.
func prunableResources() []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, gvk := range confinementKinds() {
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		out = append(out, plural)
	}
	return out
}

// managedObject names a live object the plugin wrote for a confined tenant.
type managedObject struct {
	resource  schema.GroupVersionResource
	namespace string
	name      string
	uid       string
}

// staleConfinement lists, for the existing confined tenants among those
// being added, the confinement objects the plugin manages, so that those
// the new render leaves out can be pruned. One paged list per kind covers
// any number of tenants.
func (o *AddOptions) staleConfinement(ctx context.Context, c *clients, existing map[string]metav1.Object) (map[string][]managedObject, error) {
	namespaces := map[string]bool{}
	for name, ns := range existing {
		if isConfined(ns) {
			namespaces[name] = true
		}
	}
	found := map[string][]managedObject{}
	if len(namespaces) == 0 {
		return found, nil
	}
	scope := ""
	if len(namespaces) == 1 {
		for name := range namespaces {
			scope = name
		}
	}
	opts := metav1.ListOptions{LabelSelector: render.ManagedByLabelKey + "=" + render.ManagedByValue, Limit: defaultChunkSize}
	for _, gvr := range prunableResources() {
		err := eachPage(ctx, opts, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
			page, err := c.metadata.Resource(gvr).Namespace(scope).List(ctx, opts)
			if err != nil {
				return "", err
			}
			for _, item := range page.Items {
				if namespaces[item.Namespace] {
					found[item.Namespace] = append(found[item.Namespace], managedObject{gvr, item.Namespace, item.Name, string(item.UID)})
				}
			}
			return page.Continue, nil
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("listing the %s of confined tenants: %w", gvr.Resource, err)
		}
	}
	return found, nil
}

// prune deletes the managed confinement objects that the tenant's render
// no longer holds: a guardrail left out, a source or Secret of a tenant
// that is unconfined or now builds from --git-url.
func (o *AddOptions) prune(ctx context.Context, a *applier, out io.Writer, objs []*unstructured.Unstructured, live []managedObject) error {
	for _, m := range live {
		kept := slices.ContainsFunc(objs, func(obj *unstructured.Unstructured) bool {
			plural, _ := meta.UnsafeGuessKindToResource(obj.GroupVersionKind())
			return plural.Resource == m.resource.Resource && obj.GetName() == m.name
		})
		if kept {
			continue
		}
		uid := types.UID(m.uid)
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
		if o.DryRun == DryRunServer {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		err := a.client.Resource(m.resource).Namespace(m.namespace).Delete(ctx, m.name, opts)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("pruning %s %s/%s, which the tenant no longer asks for: %w", m.resource.Resource, m.namespace, m.name, err)
		}
		if o.output.human() {
			fmt.Fprintf(out, "%s/%s pruned\n", m.resource.GroupResource(), m.name)
		}
	}
	return nil
}

// sourceReadyPollInterval is how often a conversion looks at the tenant's
// new source; source-controller needs a few seconds for a first fetch.
const sourceReadyPollInterval = time.Second

// waitSourceReady waits until the confined tenant's own source has fetched
// its artifact, so that switching the Kustomization to it never leaves the
// tenant without a source to build from.
func (o *AddOptions) waitSourceReady(ctx context.Context, a *applier, t render.TenantOptions) error {
	src := t.Confinement.Source
	gvr := sourceResource(src.Kind)
	var message string
	err := wait.PollUntilContextTimeout(ctx, sourceReadyPollInterval, o.Timeout, true, func(ctx context.Context) (bool, error) {
		live, err := a.client.Resource(gvr).Namespace(t.Namespace).Get(ctx, src.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var ready bool
		ready, message = readyCondition(live)
		return ready, nil
	})
	if err != nil {
		return fmt.Errorf("the tenant's own source %s %s/%s is not Ready after %s (%s); its Kustomization still builds from %s: fix the source and run add again", src.Kind, t.Namespace, src.Name, o.Timeout, message, t.Source)
	}
	return nil
}

// applyCounted applies obj, and again while quota admission says a new
// ResourceQuota is not counted yet: the API server refuses every object a
// quota covers until the quota controller has counted the quota and the
// server's own cache has seen it, and a tenant's Kustomization follows its
// new quota by milliseconds.
func (o *AddOptions) applyCounted(ctx context.Context, a *applier, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	var applied *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, quotaPollInterval, o.Timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		applied, err = a.apply(ctx, obj)
		if err != nil && apierrors.IsForbidden(err) && strings.Contains(err.Error(), "status unknown for quota") {
			return false, nil
		}
		return true, err
	})
	if wait.Interrupted(err) {
		return nil, fmt.Errorf("applying %s: the namespace's ResourceQuota was not counted within %s: is the cluster's quota controller running?", describe(obj), o.Timeout)
	}
	return applied, err
}

// quotaPollInterval is how often add retries an object that a new quota
// holds back; the quota controller counts a quota within milliseconds.
const quotaPollInterval = 100 * time.Millisecond

// readyCondition reads a Flux object's Ready condition, for the generation
// the controller has seen.
func readyCondition(obj *unstructured.Unstructured) (bool, string) {
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		cond, ok := c.(map[string]any)
		if !ok || cond["type"] != "Ready" {
			continue
		}
		message, _ := cond["message"].(string)
		return cond["status"] == "True" && observed >= obj.GetGeneration(), message
	}
	return false, "not reconciled yet"
}
