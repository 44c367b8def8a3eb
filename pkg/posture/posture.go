// Package posture judges how well tenants are locked in: it reads the
// cluster's lockdown (Flux's flags, the guardrail policy) and each tenant's
// facts from the tenant model, and asks the API server, as the tenant,
// what it may do. check prints its rows; describe shows them per tenant.
package posture

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// Result is a row's verdict.
type Result string

const (
	Pass Result = "PASS"
	Warn Result = "WARN"
	Fail Result = "FAIL"
)

// Row is one line of the report. Scope is "cluster" or the tenant's
// namespace; Detail says why, and for WARN and FAIL what to run.
type Row struct {
	Scope, Check string
	Result       Result
	Detail       string
}

const ClusterScope = "cluster"

// ClusterFacts are what the cluster rows are made from.
type ClusterFacts struct {
	// Deployments are the manager container's args of each Flux
	// controller Deployment in flux-system, by name; nil args mean the
	// Deployment has no manager container.
	Deployments map[string][]string
	Policy      bool
	Binding     *BindingSummary
	// OwnersPolicy and OwnersBinding are the owners-and-sources policy
	// (render.OwnersPolicyName) and its binding, which hold a team's
	// owners and robots to each namespace's tenant-policy ConfigMap.
	OwnersPolicy  bool
	OwnersBinding *BindingSummary
}

// BindingSummary is the part of a policy's binding that decides whether it
// enforces the policy, and with which parameters.
type BindingSummary struct {
	PolicyName        string   `json:"policyName"`
	ValidationActions []string `json:"validationActions"`
	// ParamName and ParamNamespace are spec.paramRef's name and namespace;
	// a namespace of "" means the namespace of each request.
	ParamName      string `json:"paramName,omitempty"`
	ParamNamespace string `json:"paramNamespace,omitempty"`
}

// TenantFacts are what a tenant's rows, before its probes, are made from:
// one namespace of the tenant, and the team it belongs to.
type TenantFacts struct {
	Namespace, Name string
	Kustomization   *tenant.KustomizationSummary
	RoleRef         *rbacv1.RoleRef
	Quota           bool
	LimitRange      bool
	NetworkPolicy   bool
	// MarkedConfined is set when the namespace carries the mark add
	// --confine puts on it (tenant.IsConfined); see confined.
	MarkedConfined bool
	// SourceFailure is why the tenant's own source cannot fetch, in
	// Flux's words with the fix when its credentials are the cause; ""
	// when it is Ready, still working, or there is none.
	SourceFailure string
	// Member is set when kubectl tenant made the namespace the tenant's
	// (tenant.IsMember).
	Member bool
	// Owners are the subjects of the tenant-owners-ROLE RoleBindings, in
	// the order of render.OwnerRoles.
	Owners []render.Owner
	// MisboundOwners name the owners' RoleBindings that grant another
	// role than their name says; their subjects are not in Owners.
	MisboundOwners []string
	// Policy is set when the namespace has its tenant-policy ConfigMap.
	Policy bool
	// AllowedSources are the URL prefixes of the tenant-policy's
	// allowedSources; nil when it has none (or there is no tenant-policy),
	// which lets the sources fetch from any URL.
	AllowedSources []string
	// Team is the tenant's namespaces among those read (GroupTeams); nil
	// for a namespace read on its own.
	Team *Team
}

// confined reports whether the tenant is confined here, as the tenant
// model reads it: the namespace is marked so, or Flux applies the
// Kustomization as a ServiceAccount.
func (t *TenantFacts) confined() bool {
	return t.MarkedConfined || (t.Kustomization != nil && t.Kustomization.Spec.ServiceAccountName != "")
}

// serviceAccount is the identity Flux applies the tenant's manifests as,
// which the probes ask about: the Kustomization's serviceAccountName, else
// the tenant's own ServiceAccount, which every tenant has.
func (t *TenantFacts) serviceAccount() string {
	if t.Kustomization != nil && t.Kustomization.Spec.ServiceAccountName != "" {
		return t.Kustomization.Spec.ServiceAccountName
	}
	return t.Namespace
}

// Facts is everything check reads before it probes.
type Facts struct {
	Cluster ClusterFacts
	Tenants []*TenantFacts
}

// ReadCluster reads what check's cluster rows judge: the Flux
// controllers' manager args, and the guardrail and owners-and-sources
// policies with their bindings (one GET each, whatever the number of
// tenants).
func ReadCluster(ctx context.Context, c *tenant.Clients, chunk int64) (ClusterFacts, error) {
	facts := ClusterFacts{Deployments: map[string][]string{}}
	var mu sync.Mutex // guards facts.Deployments
	reads := []func(context.Context) error{
		func(ctx context.Context) error {
			return tenant.EachPage(ctx, metav1.ListOptions{Limit: chunk}, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
				page, err := c.Dynamic.Resource(tenant.DeploymentGVR).Namespace(render.FluxNamespace).List(ctx, opts)
				if err != nil {
					return "", fmt.Errorf("listing Deployments in %s: %w", render.FluxNamespace, err)
				}
				for i := range page.Items {
					name := page.Items[i].GetName()
					if len(render.LockdownArgs(name)) == 0 {
						continue
					}
					args := render.ManagerArgs(&page.Items[i])
					mu.Lock()
					facts.Deployments[name] = args
					mu.Unlock()
				}
				return page.GetContinue(), nil
			})
		},
		func(ctx context.Context) (err error) {
			facts.Policy, err = readPolicy(ctx, c, render.GuardrailPolicyName)
			return err
		},
		func(ctx context.Context) (err error) {
			facts.Binding, err = readBinding(ctx, c, render.GuardrailPolicyName)
			return err
		},
		func(ctx context.Context) (err error) {
			facts.OwnersPolicy, err = readPolicy(ctx, c, render.OwnersPolicyName)
			return err
		},
		func(ctx context.Context) (err error) {
			facts.OwnersBinding, err = readBinding(ctx, c, render.OwnersPolicyName)
			return err
		},
	}
	group, groupCtx := errgroup.WithContext(ctx)
	for _, read := range reads {
		group.Go(func() error { return read(groupCtx) })
	}
	return facts, group.Wait()
}

// readPolicy reports whether the ValidatingAdmissionPolicy name exists.
func readPolicy(ctx context.Context, c *tenant.Clients, name string) (bool, error) {
	_, err := c.Metadata.Resource(tenant.PolicyGVR).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading ValidatingAdmissionPolicy %s: %w", name, err)
	}
	return true, nil
}

// readBinding reads the ValidatingAdmissionPolicyBinding name; nil when it
// does not exist.
func readBinding(ctx context.Context, c *tenant.Clients, name string) (*BindingSummary, error) {
	binding, err := c.Dynamic.Resource(tenant.PolicyBindingGVR).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading ValidatingAdmissionPolicyBinding %s: %w", name, err)
	}
	return SummarizeBinding(binding), nil
}

// SummarizeBinding reads what the cluster rows judge of a
// ValidatingAdmissionPolicyBinding.
func SummarizeBinding(binding *unstructured.Unstructured) *BindingSummary {
	var b BindingSummary
	b.PolicyName, _, _ = unstructured.NestedString(binding.Object, "spec", "policyName")
	b.ValidationActions, _, _ = unstructured.NestedStringSlice(binding.Object, "spec", "validationActions")
	b.ParamName, _, _ = unstructured.NestedString(binding.Object, "spec", "paramRef", "name")
	b.ParamNamespace, _, _ = unstructured.NestedString(binding.Object, "spec", "paramRef", "namespace")
	return &b
}

const BootstrapLockdownFix = `run "kubectl tenant bootstrap --lockdown"`

// ClusterRows judge the Flux controllers' lockdown flags, the guardrail
// policy and the owners-and-sources policy.
func ClusterRows(f ClusterFacts) []Row {
	var rows []Row
	row := func(check string, result Result, detail string) {
		rows = append(rows, Row{Scope: ClusterScope, Check: check, Result: result, Detail: detail})
	}
	const kc = "kustomize-controller"
	if _, ok := f.Deployments[kc]; !ok {
		row("lockdown/"+kc, Fail, fmt.Sprintf("Flux not installed: no Deployment %s/%s; %s", render.FluxNamespace, kc, BootstrapLockdownFix))
	}
	// kustomize-controller first, then the others Flux may run, each only
	// when it is installed: bootstrap installs only --components.
	for _, name := range []string{kc, "helm-controller", "notification-controller", "image-reflector-controller", "image-automation-controller"} {
		args, ok := f.Deployments[name]
		if !ok {
			continue
		}
		if args == nil {
			row("lockdown/"+name, Fail, fmt.Sprintf("Deployment %s/%s has no container named manager to read its flags from; %s", render.FluxNamespace, name, BootstrapLockdownFix))
			continue
		}
		var missing []string
		for _, want := range render.LockdownArgs(name) {
			if !hasFlag(args, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			row("lockdown/"+name, Fail, fmt.Sprintf("%s runs without %s; %s", name, strings.Join(missing, " "), BootstrapLockdownFix))
			continue
		}
		row("lockdown/"+name, Pass, fmt.Sprintf("%s runs with %s", name, strings.Join(render.LockdownArgs(name), " ")))
	}

	rows = append(rows, policyRows("guardrail", render.GuardrailPolicyName, "", f.Policy, f.Binding)...)
	rows = append(rows, policyRows("owners", render.OwnersPolicyName, render.TenantPolicyName, f.OwnersPolicy, f.OwnersBinding)...)
	return rows
}

// policyRows judge one of bootstrap --lockdown's policies and its binding,
// as checks PREFIX-policy and PREFIX-binding: both exist, the binding binds
// the policy, takes its parameters from each request's namespace's
// ConfigMap param (when param is not ""), and denies.
func policyRows(prefix, name, param string, present bool, b *BindingSummary) []Row {
	policy := Row{Scope: ClusterScope, Check: prefix + "-policy", Result: Pass, Detail: fmt.Sprintf("ValidatingAdmissionPolicy %s is installed", name)}
	if !present {
		policy.Result, policy.Detail = Fail, fmt.Sprintf("no ValidatingAdmissionPolicy %s, so %s; %s", name, policyPurpose(prefix), BootstrapLockdownFix)
	}
	binding := Row{Scope: ClusterScope, Check: prefix + "-binding", Result: Fail}
	switch {
	case b == nil:
		binding.Detail = fmt.Sprintf("no ValidatingAdmissionPolicyBinding %s, so the policy is not enforced; %s", name, BootstrapLockdownFix)
	case b.PolicyName != name:
		binding.Detail = fmt.Sprintf("ValidatingAdmissionPolicyBinding %s binds policy %q, not %s; %s", name, b.PolicyName, name, BootstrapLockdownFix)
	case param != "" && (b.ParamName != param || b.ParamNamespace != ""):
		binding.Detail = fmt.Sprintf("ValidatingAdmissionPolicyBinding %s takes its parameters from ConfigMap %q in namespace %q, not from each tenant namespace's ConfigMap %s; %s",
			name, b.ParamName, b.ParamNamespace, param, BootstrapLockdownFix)
	case !slices.Contains(b.ValidationActions, "Deny"):
		binding.Detail = fmt.Sprintf("ValidatingAdmissionPolicyBinding %s has validationActions [%s], which do not Deny; %s", name, strings.Join(b.ValidationActions, ", "), BootstrapLockdownFix)
	case param != "":
		binding.Result, binding.Detail = Pass, fmt.Sprintf("ValidatingAdmissionPolicyBinding %s denies what the policy refuses, with each tenant namespace's ConfigMap %s as parameters", name, param)
	default:
		binding.Result, binding.Detail = Pass, fmt.Sprintf("ValidatingAdmissionPolicyBinding %s denies what the policy refuses", name)
	}
	return []Row{policy, binding}
}

// policyPurpose says what is open without the policy of prefix.
func policyPurpose(prefix string) string {
	if prefix == "owners" {
		return "a team's owners can change what the platform put in its namespaces, and its sources may fetch from any URL"
	}
	return "a tenant can change its own guardrails"
}

// hasFlag reports whether args set want ("--name=value") to its value; the
// last setting wins, as with Go's flag packages, and a bare boolean
// "--name" means "--name=true".
func hasFlag(args []string, want string) bool {
	name, value, _ := strings.Cut(want, "=")
	got, set := "", false
	for _, arg := range args {
		switch {
		case arg == name:
			got, set = "true", true
		case strings.HasPrefix(arg, name+"="):
			got, set = strings.TrimPrefix(arg, name+"="), true
		}
	}
	return set && got == value
}

// TenantRows judge what was read of a tenant, before its probes: its own
// objects, then its place in its team (TeamRows).
func TenantRows(t *TenantFacts, kustomizationName string) []Row {
	var rows []Row
	row := func(check string, result Result, detail string) {
		rows = append(rows, Row{Scope: t.Namespace, Check: check, Result: result, Detail: detail})
	}
	confine := fmt.Sprintf(`run "kubectl tenant add %s %s --confine"`, t.Namespace, t.Name)
	if ks := t.Kustomization; ks == nil {
		row("kustomization", Fail, fmt.Sprintf("Kustomization %s not found, so the tenant is not deployed; run \"kubectl tenant add %s %s --confine\" (or give --kustomization-name)", kustomizationName, t.Namespace, t.Name))
	} else {
		if sa := ks.Spec.ServiceAccountName; sa != "" {
			row("service-account", Pass, fmt.Sprintf("Kustomization %s applies as ServiceAccount %s", kustomizationName, sa))
		} else {
			row("service-account", Fail, fmt.Sprintf("Kustomization %s has no serviceAccountName, so Flux applies it as its own identity or --default-service-account; %s", kustomizationName, confine))
		}
		ref := ks.Spec.SourceRef
		switch {
		case t.SourceFailure != "" && (ref.Namespace == "" || ref.Namespace == t.Namespace):
			row("source", Fail, t.SourceFailure)
		case ref.Namespace == "" || ref.Namespace == t.Namespace:
			row("source", Pass, fmt.Sprintf("Kustomization %s builds from %s/%s in its own namespace", kustomizationName, ref.Kind, ref.Name))
		default:
			row("source", Fail, fmt.Sprintf("Kustomization %s refers to %s/%s in %s, outside the tenant's namespace; %s", kustomizationName, ref.Kind, ref.Name, ref.Namespace, confine))
		}
	}

	binding := render.ReconcilerBindingName(t.Namespace)
	switch ref := t.RoleRef; {
	case ref == nil:
		row("role", Warn, fmt.Sprintf("RoleBinding %s not found, so the tenant's reconciler may do nothing; %s", binding, confine))
	case ref.Kind == "ClusterRole" && ref.Name == render.DefaultClusterRole:
		row("role", Fail, fmt.Sprintf("RoleBinding %s grants ClusterRole cluster-admin, with which the tenant can remove its own guardrails; %s (admin by default)", binding, confine))
	default:
		row("role", Pass, fmt.Sprintf("RoleBinding %s grants %s %s", binding, ref.Kind, ref.Name))
	}

	for _, g := range []struct {
		check, kind, name, flag string
		present                 bool
	}{
		{"quota", "ResourceQuota", render.QuotaName, "--quota RESOURCE=QUANTITY", t.Quota},
		{"limit-range", "LimitRange", render.LimitRangeName, "--limit-range RESOURCE=REQUEST[/LIMIT]", t.LimitRange},
		{"network-policy", "NetworkPolicy", render.NetworkPolicyName, "--network-policy isolate", t.NetworkPolicy},
	} {
		if g.present {
			row(g.check, Pass, fmt.Sprintf("%s %s is present", g.kind, g.name))
		} else {
			row(g.check, Warn, fmt.Sprintf("no %s %s; run \"kubectl tenant add %s %s --confine %s\" with the tenant's other guardrail flags", g.kind, g.name, t.Namespace, t.Name, g.flag))
		}
	}
	return append(rows, TeamRows(t)...)
}

// Identity is how the API server sees a tenant's ServiceAccount:
// its user name and the groups every ServiceAccount token carries.
func Identity(namespace, serviceAccount string) rest.ImpersonationConfig {
	return rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + serviceAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
}

// ProbeAll runs each tenant's probes, --concurrency tenants at a time, and
// returns each tenant's rows in the order of the tenants.
func ProbeAll(ctx context.Context, c *tenant.Clients, facts *Facts, kustomizationName string, concurrency int) ([][]Row, error) {
	out := make([][]Row, len(facts.Tenants))
	// The impersonating clients share one rate limiter, so --concurrency
	// bounds the load, not the number of tenants; client-go's transport
	// cache gives them all the same connections, since impersonation is
	// only a header.
	limiter := flowcontrol.NewTokenBucketRateLimiter(c.Config.QPS, c.Config.Burst)
	policyInstalled := facts.Cluster.Policy && facts.Cluster.Binding != nil
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(concurrency)
	for i, t := range facts.Tenants {
		// Another tenant's namespace to try writing into: the next one,
		// or Flux's when there is only one tenant.
		other := render.FluxNamespace
		if n := len(facts.Tenants); n > 1 {
			other = facts.Tenants[(i+1)%n].Namespace
		}
		group.Go(func() error {
			config := rest.CopyConfig(c.Config)
			config.Impersonate = Identity(t.Namespace, t.serviceAccount())
			config.RateLimiter = limiter
			as, err := dynamic.NewForConfig(config)
			if err != nil {
				return err
			}
			p := prober{reviews: c.Dynamic, as: as, policyInstalled: policyInstalled}
			rows := TenantRows(t, kustomizationName)
			rows = append(rows, p.probe(groupCtx, t, other)...)
			out[i] = rows
			return groupCtx.Err()
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// prober asks the API server what a tenant's ServiceAccount may do.
type prober struct {
	// reviews creates SubjectAccessReviews as the caller; as writes, in
	// dry runs, as the tenant.
	reviews, as     dynamic.Interface
	policyInstalled bool
}

// guardrailAnnotation is what the tenant-vars probe tries to add; it is a
// dry run, so it is never stored.
const guardrailAnnotation = "kubectl-tenant.io/check"

// probe runs a tenant's four probes side by side: two
// SubjectAccessReviews (RBAC only) and two dry-run writes as the tenant
// (which also pass through admission, where the guardrail policy is). Each
// is one round trip, so a thousand tenants take as long as their slowest
// probes, not the sum of all four.
func (p prober) probe(ctx context.Context, t *TenantFacts, other string) []Row {
	identity := Identity(t.Namespace, t.serviceAccount())
	user := identity.UserName
	fix := fmt.Sprintf(`run "kubectl tenant add %s %s --confine" so that the guardrail policy protects it`, t.Namespace, t.Name)
	if !p.policyInstalled {
		fix = BootstrapLockdownFix + " to install the guardrail policy"
	}
	rows := make([]Row, 4)
	var wg sync.WaitGroup
	wg.Go(func() {
		allowed, err := p.review(ctx, identity, map[string]any{"verb": "create", "group": rbacv1.GroupName, "resource": "clusterrolebindings"})
		rows[0] = reviewRow(t.Namespace, "no-cluster-role-bindings", user, "create ClusterRoleBindings", allowed, err,
			"it can bind itself cluster-admin: remove what grants it (kubectl get clusterrolebindings -o wide)")
	})
	wg.Go(func() {
		allowed, err := p.review(ctx, identity, map[string]any{"verb": "create", "resource": "configmaps", "namespace": other})
		rows[1] = reviewRow(t.Namespace, "no-writes-elsewhere", user, "create ConfigMaps in namespace "+other, allowed, err,
			fmt.Sprintf("it can write outside its namespace: remove the binding that grants it (kubectl get rolebindings -n %s -o wide; kubectl get clusterrolebindings -o wide)", other))
	})
	wg.Go(func() {
		if !t.Quota {
			rows[2] = Row{Scope: t.Namespace, Check: "quota-protected", Result: Warn,
				Detail: fmt.Sprintf("skipped: no ResourceQuota %s to try deleting", render.QuotaName)}
			return
		}
		err := p.as.Resource(tenant.ResourceQuotaGVR).Namespace(t.Namespace).Delete(ctx, render.QuotaName, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		rows[2] = dryRunRow(t.Namespace, "quota-protected", "delete its ResourceQuota "+render.QuotaName, err, fix)
	})
	wg.Go(func() {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"dry-run"}}}`, guardrailAnnotation)
		_, err := p.as.Resource(tenant.ConfigMapGVR).Namespace(t.Namespace).Patch(ctx, render.TenantVarsConfigMapName, types.MergePatchType, []byte(patch),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: tenant.FieldManager})
		rows[3] = dryRunRow(t.Namespace, "tenant-vars-protected", "change its ConfigMap "+render.TenantVarsConfigMapName, err, fix)
	})
	wg.Wait()
	return rows
}

// review asks, as the caller, whether identity may do what attributes say.
func (p prober) review(ctx context.Context, identity rest.ImpersonationConfig, attributes map[string]any) (bool, error) {
	groups := make([]any, len(identity.Groups))
	for i, g := range identity.Groups {
		groups[i] = g
	}
	review := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authorization.k8s.io/v1",
		"kind":       "SubjectAccessReview",
		"spec":       map[string]any{"user": identity.UserName, "groups": groups, "resourceAttributes": attributes},
	}}
	result, err := p.reviews.Resource(tenant.SubjectAccessReviewGVR).Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	allowed, _, _ := unstructured.NestedBool(result.Object, "status", "allowed")
	return allowed, nil
}

// reviewRow judges a SubjectAccessReview of whether user may do action:
// allowed is FAIL.
func reviewRow(scope, check, user, action string, allowed bool, err error, fix string) Row {
	row := Row{Scope: scope, Check: check}
	switch {
	case apierrors.IsForbidden(err):
		row.Result, row.Detail = Warn, fmt.Sprintf("not checked: you may not create SubjectAccessReviews (%s); run check as a cluster admin", tenant.OneLine(err.Error()))
	case err != nil:
		row.Result, row.Detail = Fail, fmt.Sprintf("not checked: %s; run check again", tenant.OneLine(err.Error()))
	case allowed:
		row.Result, row.Detail = Fail, fmt.Sprintf("%s may %s, so %s", user, action, fix)
	default:
		row.Result, row.Detail = Pass, fmt.Sprintf("%s may not %s", user, action)
	}
	return row
}

// dryRunRow judges a dry-run write as the tenant: refused is PASS, and
// accepted (it would have happened) is FAIL.
func dryRunRow(scope, check, action string, err error, fix string) Row {
	row := Row{Scope: scope, Check: check}
	switch {
	case err == nil:
		row.Result, row.Detail = Fail, fmt.Sprintf("the tenant can %s: %s", action, fix)
	case isImpersonationDenied(err):
		row.Result, row.Detail = Warn, fmt.Sprintf("not checked: you may not impersonate the tenant's ServiceAccount (%s); run check as a cluster admin", tenant.OneLine(err.Error()))
	case isGuardrailDenial(err):
		row.Result, row.Detail = Pass, fmt.Sprintf("the tenant may not %s: denied by the guardrail policy", action)
	case apierrors.IsForbidden(err):
		row.Result, row.Detail = Pass, fmt.Sprintf("the tenant may not %s: forbidden by RBAC", action)
	case apierrors.IsNotFound(err):
		row.Result, row.Detail = Warn, fmt.Sprintf("not checked: nothing to %s (%s)", action, tenant.OneLine(err.Error()))
	default:
		row.Result, row.Detail = Fail, fmt.Sprintf("not checked: %s; run check again", tenant.OneLine(err.Error()))
	}
	return row
}

// isImpersonationDenied tells the caller's missing impersonate permission
// apart from the tenant being refused: both are 403s.
func isImpersonationDenied(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "cannot impersonate")
}

// isGuardrailDenial recognises a refusal by an admission Policy: a 403
// with the policy's reason Forbidden, or a 422 when a policy sets none.
func isGuardrailDenial(err error) bool {
	msg := err.Error()
	byPolicy := strings.Contains(msg, "ValidatingAdmissionPolicy") || strings.Contains(msg, "guardrail")
	return byPolicy && (apierrors.IsForbidden(err) || apierrors.IsInvalid(err))
}

// FactsOf are the facts check judges a tenant by, read off its live
// objects, so that describe needs no second read of them; labelKey is the
// tenant label, which membership is read from.
func FactsOf(t *tenant.Tenant, labelKey string) *TenantFacts {
	f := &TenantFacts{Namespace: t.Namespace, Name: t.Name,
		Quota: t.Objects.Quota() != nil, LimitRange: t.Objects.LimitRange() != nil, NetworkPolicy: t.Objects.NetworkPolicy() != nil,
		MarkedConfined: tenant.IsConfined(t.Objects.Namespace), Member: tenant.IsMember(t.Objects.Namespace, labelKey, t.Name)}
	if ks := t.Objects.Kustomization(); ks != nil {
		f.Kustomization = &tenant.KustomizationSummary{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ks.Object, f.Kustomization); err != nil {
			f.Kustomization = nil
		}
	}
	f.readTeamFacts(&t.Objects)
	f.SourceFailure = tenant.SourceFailure(t.Objects.Source())
	if rb := t.Objects.RoleBinding(); rb != nil {
		ref := &rbacv1.RoleRef{}
		ref.APIGroup, _, _ = unstructured.NestedString(rb.Object, "roleRef", "apiGroup")
		ref.Kind, _, _ = unstructured.NestedString(rb.Object, "roleRef", "kind")
		ref.Name, _, _ = unstructured.NestedString(rb.Object, "roleRef", "name")
		f.RoleRef = ref
	}
	return f
}

// Read reads the tenants of the given namespaces back through reader and
// the cluster's lockdown, side by side: the one read that check and
// describe both judge by. The namespaces of one tenant name are grouped
// into its team from the same objects, with no read of their own. With settle, the tenants' settings are read back
// too (describe shows them; check judges objects alone).
func Read(ctx context.Context, reader *tenant.Reader, namespaces []*unstructured.Unstructured, settle bool) (*Facts, []*tenant.Tenant, error) {
	read := reader.ReadObjects
	if settle {
		read = reader.Read
	}
	facts := &Facts{}
	var tenants []*tenant.Tenant
	group, groupCtx := errgroup.WithContext(ctx)
	group.Go(func() (err error) {
		facts.Cluster, err = ReadCluster(groupCtx, reader.Clients, reader.ChunkSize)
		return err
	})
	group.Go(func() (err error) {
		tenants, err = read(groupCtx, namespaces)
		return err
	})
	if err := group.Wait(); err != nil {
		return nil, nil, err
	}
	for _, t := range tenants {
		facts.Tenants = append(facts.Tenants, FactsOf(t, reader.LabelKey))
	}
	GroupTeams(facts.Tenants)
	return facts, tenants, nil
}
