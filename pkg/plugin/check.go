package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

const checkExample = `  # Check the cluster's lockdown and every tenant
  kubectl tenant check

  # Check two tenants, as JSON for a program
  kubectl tenant check foo bar -o json

  # In CI: the exit code is 1 when any check FAILs
  kubectl tenant check --all || exit 1`

// CheckReportAPIVersion and CheckReportKind name the object check prints
// for -o json|yaml, so that programs reading it can tell its shape.
const (
	CheckReportAPIVersion = "kubectl-tenant.io/v1alpha1"
	CheckReportKind       = "CheckReport"
)

// checkResult is a row's verdict.
type checkResult string

const (
	checkPass checkResult = "PASS"
	checkWarn checkResult = "WARN"
	checkFail checkResult = "FAIL"
)

// checkRow is one line of the report. Scope is "cluster" or the tenant's
// namespace; Detail says why, and for WARN and FAIL what to run.
type checkRow struct {
	Scope, Check string
	Result       checkResult
	Detail       string
}

const clusterScope = "cluster"

// CheckOptions are the inputs of `kubectl tenant check`.
type CheckOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	Selection         *tenantSelection
	KustomizationName string
	Concurrency       int

	output *output
}

// NewCmdCheck builds `kubectl tenant check`.
func NewCmdCheck(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CheckOptions{
		configFlags:       configFlags,
		outputFlags:       newTableOutputFlags(),
		IOStreams:         streams,
		Selection:         newTenantSelection(true),
		KustomizationName: render.DefaultKustomizationName,
		Concurrency:       32,
	}
	cmd := &cobra.Command{
		Use:   "check [NAMESPACE...]",
		Short: "Report, per tenant and for the cluster, whether tenants are locked in",
		Long: `Check the security posture of the cluster and of each tenant, one row per check:
PASS, WARN or FAIL, with the reason and, when it is not PASS, what to run.

For the cluster: Flux's lockdown flags on the running controllers, and the guardrail
ValidatingAdmissionPolicy and its binding (both from "bootstrap --lockdown"). For each
tenant: its Kustomization applies as the tenant's ServiceAccount, from a source in its
own namespace; its role is not cluster-admin; its quota, limit range and network policy
exist; and, asked as the tenant's ServiceAccount, it may not create ClusterRoleBindings
or write into another tenant's namespace (SubjectAccessReviews), and may not delete its
quota or change its tenant-vars (server-side dry runs, impersonating it, because only
a real request passes through admission policies; nothing is changed).

The exit code is 1 when any check FAILs, so CI can run it; WARN alone exits 0.
Without namespaces, --tenant-name or -l, every tenant is checked.`,
		Example: checkExample,
		RunE:    runCommand(o),
	}
	o.Selection.addFlags(cmd, configFlags)
	f := cmd.Flags()
	f.StringVar(&o.KustomizationName, "kustomization-name", o.KustomizationName, "Name of the tenants' Flux Kustomization")
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "How many tenants are probed at once")
	// A report is one object: the name and template printers have nothing
	// to say about it that json or yaml would not.
	o.outputFlags.addReportFlags(cmd, "Output format. One of: (json, yaml); the default is a table")
	return cmd
}

// checkFormats are the -o values check prints; "wide" is the table, which
// has no extra columns, accepted because kubectl users type it.
func checkFormats() []string { return []string{"", "wide", "json", "yaml"} }

// Complete takes tenant namespaces as arguments and builds the printer.
func (o *CheckOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.complete(args)
	var err error
	o.output, err = o.outputFlags.toReportOutput("check", "a table", checkFormats())
	return err
}

// validateKustomizationName checks --kustomization-name of the commands
// that read tenants' Kustomizations.
func validateKustomizationName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("invalid --kustomization-name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// Validate checks the selection and the flags.
func (o *CheckOptions) Validate() error {
	if err := validateKustomizationName(o.KustomizationName); err != nil {
		return err
	}
	if o.Concurrency < 1 {
		return fmt.Errorf("invalid --concurrency %d: must be at least 1", o.Concurrency)
	}
	return o.Selection.validate()
}

// checkFailedError is check's error when rows FAIL: the report is printed
// already, and main exits 1. Its own type, so a caller can tell a failed
// check from a check that could not run.
type checkFailedError struct{ failed, total int }

func (e *checkFailedError) Error() string {
	return fmt.Sprintf("check: %d of %d checks failed (the FAIL rows say what to run)", e.failed, e.total)
}

// IsCheckFailed reports whether err says that check ran and found FAILs,
// as opposed to check not running at all.
func IsCheckFailed(err error) bool {
	var failed *checkFailedError
	return errors.As(err, &failed)
}

// Run reads the cluster's state once, probes each tenant and prints the
// report; it returns a checkFailedError when any row FAILs.
func (o *CheckOptions) Run(ctx context.Context) error {
	// Each tenant costs a few probes; at client-go's default 5 QPS a
	// thousand tenants would take minutes, all of it waiting on ourselves.
	qps := float32(25 * o.Concurrency)
	c, err := newClients(o.configFlags, o.ErrOut, qps, 2*int(qps))
	if err != nil {
		return err
	}
	facts, err := gatherFacts(ctx, c, o.Selection, o.KustomizationName)
	if err != nil {
		return err
	}
	rows := clusterRows(facts.cluster)
	tenantRows, err := o.probeAll(ctx, c, facts)
	if err != nil {
		return err
	}
	for _, r := range tenantRows {
		rows = append(rows, r...)
	}
	if err := o.print(rows); err != nil {
		return err
	}
	return checkError(rows)
}

// checkError is nil unless a row FAILs.
func checkError(rows []checkRow) error {
	failed := 0
	for _, r := range rows {
		if r.Result == checkFail {
			failed++
		}
	}
	if failed == 0 {
		return nil
	}
	return &checkFailedError{failed: failed, total: len(rows)}
}

func (o *CheckOptions) print(rows []checkRow) error {
	if !o.output.table {
		return o.output.printObj(o.Out, checkReport(rows))
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		cells[i] = []string{r.Scope, r.Check, string(r.Result), r.Detail}
	}
	if err := o.output.printTable(o.Out, []string{"SCOPE", "CHECK", "RESULT", "DETAIL"}, cells); err != nil {
		return err
	}
	counts := countResults(rows)
	fmt.Fprintf(o.ErrOut, "%d checks: %d PASS, %d WARN, %d FAIL\n", len(rows), counts[checkPass], counts[checkWarn], counts[checkFail])
	return nil
}

func countResults(rows []checkRow) map[checkResult]int {
	counts := map[checkResult]int{}
	for _, r := range rows {
		counts[r.Result]++
	}
	return counts
}

// checkReport is the report as one object for -o json|yaml: the cluster's
// rows, then each tenant's rows under its namespace, and the counts.
func checkReport(rows []checkRow) *unstructured.Unstructured {
	cluster := []any{}
	tenants := []any{}
	byNamespace := map[string]map[string]any{}
	for _, r := range rows {
		row := map[string]any{"check": r.Check, "result": string(r.Result), "detail": r.Detail}
		if r.Scope == clusterScope {
			cluster = append(cluster, row)
			continue
		}
		tenant, ok := byNamespace[r.Scope]
		if !ok {
			tenant = map[string]any{"namespace": r.Scope, "checks": []any{}}
			byNamespace[r.Scope] = tenant
			tenants = append(tenants, tenant)
		}
		tenant["checks"] = append(tenant["checks"].([]any), row)
	}
	counts := countResults(rows)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": CheckReportAPIVersion,
		"kind":       CheckReportKind,
		"summary": map[string]any{
			"total": int64(len(rows)),
			"pass":  int64(counts[checkPass]),
			"warn":  int64(counts[checkWarn]),
			"fail":  int64(counts[checkFail]),
		},
		"cluster": cluster,
		"tenants": tenants,
	}}
}

// clusterFacts are what the cluster rows are made from.
type clusterFacts struct {
	// deployments are the manager container's args of each Flux
	// controller Deployment in flux-system, by name; nil args mean the
	// Deployment has no manager container.
	deployments map[string][]string
	policy      bool
	binding     *bindingSummary
}

// bindingSummary is the part of the guardrail policy's binding that
// decides whether it enforces the policy.
type bindingSummary struct {
	PolicyName        string   `json:"policyName"`
	ValidationActions []string `json:"validationActions"`
}

// tenantFacts are what a tenant's rows, before its probes, are made from.
type tenantFacts struct {
	namespace, name string
	kustomization   *kustomizationSummary
	roleRef         *rbacv1.RoleRef
	quota           bool
	limitRange      bool
	networkPolicy   bool
}

// serviceAccount is the identity Flux applies the tenant's manifests as,
// which the probes ask about: the Kustomization's serviceAccountName, else
// the tenant's own ServiceAccount, which every tenant has.
func (t *tenantFacts) serviceAccount() string {
	if t.kustomization != nil && t.kustomization.Spec.ServiceAccountName != "" {
		return t.kustomization.Spec.ServiceAccountName
	}
	return t.namespace
}

// checkFacts is everything check reads before it probes.
type checkFacts struct {
	cluster clusterFacts
	tenants []*tenantFacts
}

var (
	roleBindingGVR      = rbacv1.SchemeGroupVersion.WithResource("rolebindings")
	resourceQuotaGVR    = corev1.SchemeGroupVersion.WithResource("resourcequotas")
	limitRangeGVR       = corev1.SchemeGroupVersion.WithResource("limitranges")
	networkPolicyGVR    = networkingv1.SchemeGroupVersion.WithResource("networkpolicies")
	deploymentGVR       = appsv1.SchemeGroupVersion.WithResource("deployments")
	configMapGVR        = corev1.SchemeGroupVersion.WithResource("configmaps")
	policyGVR           = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}
	policyBindingGVR    = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicybindings"}
	subjectAccessReview = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "subjectaccessreviews"}
)

// roleBindingSummary is the part of a RoleBinding check reads.
type roleBindingSummary struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	RoleRef rbacv1.RoleRef `json:"roleRef"`
}

// gatherFacts reads the selected tenants and, each kind once for all of them,
// what check looks at: one paged list per kind, all at the same time, so
// that a thousand tenants cost a few requests rather than a thousand.
// describe reads the same facts through it, so both judge alike.
func gatherFacts(ctx context.Context, c *clients, selection *tenantSelection, kustomizationName string) (*checkFacts, error) {
	raw, err := rest.UnversionedRESTClientFor(dynamic.ConfigFor(c.config))
	if err != nil {
		return nil, err
	}
	// With exactly one tenant named, its namespace is the scope of every
	// list: a cluster of ten thousand tenants is not read for one.
	scope := ""
	if len(selection.Namespaces) == 1 {
		scope = selection.Namespaces[0]
	}
	chunk := selection.ChunkSize
	facts := &checkFacts{}
	var (
		mu                        sync.Mutex // guards the maps below, written from several lists
		kustomizations            = map[string]*kustomizationSummary{}
		roleRefs                  = map[string]*rbacv1.RoleRef{}
		quotas, limits, isolation = map[string]bool{}, map[string]bool{}, map[string]bool{}
	)
	named := func(name string) metav1.ListOptions {
		return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), Limit: chunk}
	}
	present := func(gvr schema.GroupVersionResource, name string, into map[string]bool) func(context.Context) error {
		return func(ctx context.Context) error {
			err := eachPage(ctx, named(name), func(ctx context.Context, opts metav1.ListOptions) (string, error) {
				page, err := c.metadata.Resource(gvr).Namespace(scope).List(ctx, opts)
				if err != nil {
					return "", err
				}
				mu.Lock()
				for i := range page.Items {
					into[page.Items[i].Namespace] = true
				}
				mu.Unlock()
				return page.Continue, nil
			})
			if err != nil {
				return fmt.Errorf("listing %s named %s: %w", gvr.Resource, name, err)
			}
			return nil
		}
	}
	reads := []func(context.Context) error{
		func(ctx context.Context) error {
			return selection.each(ctx, c, func(ns *metav1.PartialObjectMetadata) error {
				facts.tenants = append(facts.tenants, &tenantFacts{namespace: ns.Name, name: ns.Labels[selection.LabelKey]})
				return nil
			})
		},
		func(ctx context.Context) error {
			err := eachItem(ctx, raw, resourcePath(kustomizationGVR, scope), named(kustomizationName), "Kustomizations", func(ks *kustomizationSummary) {
				mu.Lock()
				kustomizations[ks.Metadata.Namespace] = ks
				mu.Unlock()
			})
			// No Kustomization API: every tenant's Kustomization row
			// says "not found", and the cluster rows say Flux is missing.
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("listing Flux Kustomizations: %w", err)
			}
			return nil
		},
		func(ctx context.Context) error {
			// Names differ per namespace (NS-reconciler), so no field
			// selector fits; the small decode keeps ten thousand cheap.
			opts := metav1.ListOptions{Limit: chunk}
			err := eachItem(ctx, raw, resourcePath(roleBindingGVR, scope), opts, "RoleBindings", func(rb *roleBindingSummary) {
				if rb.Metadata.Name == rb.Metadata.Namespace+"-reconciler" {
					mu.Lock()
					roleRefs[rb.Metadata.Namespace] = &rb.RoleRef
					mu.Unlock()
				}
			})
			if err != nil {
				return fmt.Errorf("listing RoleBindings: %w", err)
			}
			return nil
		},
		present(resourceQuotaGVR, render.QuotaName, quotas),
		present(limitRangeGVR, render.LimitRangeName, limits),
		present(networkPolicyGVR, render.NetworkPolicyName, isolation),
		func(ctx context.Context) (err error) {
			facts.cluster, err = readClusterFacts(ctx, c, chunk)
			return err
		},
	}
	group, groupCtx := errgroup.WithContext(ctx)
	for _, read := range reads {
		group.Go(func() error { return read(groupCtx) })
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	for _, t := range facts.tenants {
		t.kustomization = kustomizations[t.namespace]
		t.roleRef = roleRefs[t.namespace]
		t.quota, t.limitRange, t.networkPolicy = quotas[t.namespace], limits[t.namespace], isolation[t.namespace]
	}
	return facts, nil
}

// readClusterFacts reads what check's cluster rows judge: the Flux
// controllers' manager args and the guardrail policy with its binding.
func readClusterFacts(ctx context.Context, c *clients, chunk int64) (clusterFacts, error) {
	facts := clusterFacts{deployments: map[string][]string{}}
	var mu sync.Mutex // guards facts.deployments
	reads := []func(context.Context) error{
		func(ctx context.Context) error {
			return eachPage(ctx, metav1.ListOptions{Limit: chunk}, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
				page, err := c.dynamic.Resource(deploymentGVR).Namespace(render.FluxNamespace).List(ctx, opts)
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
					facts.deployments[name] = args
					mu.Unlock()
				}
				return page.GetContinue(), nil
			})
		},
		func(ctx context.Context) error {
			_, err := c.metadata.Resource(policyGVR).Get(ctx, render.GuardrailPolicyName, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return nil
			case err != nil:
				return fmt.Errorf("reading ValidatingAdmissionPolicy %s: %w", render.GuardrailPolicyName, err)
			}
			facts.policy = true
			return nil
		},
		func(ctx context.Context) error {
			binding, err := c.dynamic.Resource(policyBindingGVR).Get(ctx, render.GuardrailPolicyName, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return nil
			case err != nil:
				return fmt.Errorf("reading ValidatingAdmissionPolicyBinding %s: %w", render.GuardrailPolicyName, err)
			}
			var b bindingSummary
			b.PolicyName, _, _ = unstructured.NestedString(binding.Object, "spec", "policyName")
			b.ValidationActions, _, _ = unstructured.NestedStringSlice(binding.Object, "spec", "validationActions")
			facts.binding = &b
			return nil
		},
	}
	group, groupCtx := errgroup.WithContext(ctx)
	for _, read := range reads {
		group.Go(func() error { return read(groupCtx) })
	}
	return facts, group.Wait()
}

const bootstrapLockdownFix = `run "kubectl tenant bootstrap --lockdown"`

// clusterRows judge the Flux controllers' lockdown flags and the guardrail
// policy.
func clusterRows(f clusterFacts) []checkRow {
	var rows []checkRow
	row := func(check string, result checkResult, detail string) {
		rows = append(rows, checkRow{Scope: clusterScope, Check: check, Result: result, Detail: detail})
	}
	const kc = "kustomize-controller"
	if _, ok := f.deployments[kc]; !ok {
		row("lockdown/"+kc, checkFail, fmt.Sprintf("Flux not installed: no Deployment %s/%s; %s", render.FluxNamespace, kc, bootstrapLockdownFix))
	}
	// kustomize-controller first, then the others Flux may run, each only
	// when it is installed: bootstrap installs only --components.
	for _, name := range []string{kc, "helm-controller", "notification-controller", "image-reflector-controller", "image-automation-controller"} {
		args, ok := f.deployments[name]
		if !ok {
			continue
		}
		if args == nil {
			row("lockdown/"+name, checkFail, fmt.Sprintf("Deployment %s/%s has no container named manager to read its flags from; %s", render.FluxNamespace, name, bootstrapLockdownFix))
			continue
		}
		var missing []string
		for _, want := range render.LockdownArgs(name) {
			if !hasFlag(args, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			row("lockdown/"+name, checkFail, fmt.Sprintf("%s runs without %s; %s", name, strings.Join(missing, " "), bootstrapLockdownFix))
			continue
		}
		row("lockdown/"+name, checkPass, fmt.Sprintf("%s runs with %s", name, strings.Join(render.LockdownArgs(name), " ")))
	}

	if f.policy {
		row("guardrail-policy", checkPass, fmt.Sprintf("ValidatingAdmissionPolicy %s is installed", render.GuardrailPolicyName))
	} else {
		row("guardrail-policy", checkFail, fmt.Sprintf("no ValidatingAdmissionPolicy %s, so a tenant can change its own guardrails; %s", render.GuardrailPolicyName, bootstrapLockdownFix))
	}
	switch b := f.binding; {
	case b == nil:
		row("guardrail-binding", checkFail, fmt.Sprintf("no ValidatingAdmissionPolicyBinding %s, so the policy is not enforced; %s", render.GuardrailPolicyName, bootstrapLockdownFix))
	case b.PolicyName != render.GuardrailPolicyName:
		row("guardrail-binding", checkFail, fmt.Sprintf("ValidatingAdmissionPolicyBinding %s binds policy %q, not %s; %s", render.GuardrailPolicyName, b.PolicyName, render.GuardrailPolicyName, bootstrapLockdownFix))
	case !slices.Contains(b.ValidationActions, "Deny"):
		row("guardrail-binding", checkFail, fmt.Sprintf("ValidatingAdmissionPolicyBinding %s has validationActions [%s], which do not Deny; %s", render.GuardrailPolicyName, strings.Join(b.ValidationActions, ", "), bootstrapLockdownFix))
	default:
		row("guardrail-binding", checkPass, fmt.Sprintf("ValidatingAdmissionPolicyBinding %s denies what the policy refuses", render.GuardrailPolicyName))
	}
	return rows
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

// tenantRows judge what was read of a tenant, before its probes.
func tenantRows(t *tenantFacts, kustomizationName string) []checkRow {
	var rows []checkRow
	row := func(check string, result checkResult, detail string) {
		rows = append(rows, checkRow{Scope: t.namespace, Check: check, Result: result, Detail: detail})
	}
	confine := fmt.Sprintf(`run "kubectl tenant add %s %s --confine"`, t.namespace, t.name)
	if ks := t.kustomization; ks == nil {
		row("kustomization", checkFail, fmt.Sprintf("Kustomization %s not found, so the tenant is not deployed; run \"kubectl tenant add %s %s --confine\" (or give --kustomization-name)", kustomizationName, t.namespace, t.name))
	} else {
		if sa := ks.Spec.ServiceAccountName; sa != "" {
			row("service-account", checkPass, fmt.Sprintf("Kustomization %s applies as ServiceAccount %s", kustomizationName, sa))
		} else {
			row("service-account", checkFail, fmt.Sprintf("Kustomization %s has no serviceAccountName, so Flux applies it as its own identity or --default-service-account; %s", kustomizationName, confine))
		}
		ref := ks.Spec.SourceRef
		if ref.Namespace == "" || ref.Namespace == t.namespace {
			row("source", checkPass, fmt.Sprintf("Kustomization %s builds from %s/%s in its own namespace", kustomizationName, ref.Kind, ref.Name))
		} else {
			row("source", checkFail, fmt.Sprintf("Kustomization %s refers to %s/%s in %s, outside the tenant's namespace; %s", kustomizationName, ref.Kind, ref.Name, ref.Namespace, confine))
		}
	}

	binding := t.namespace + "-reconciler"
	switch ref := t.roleRef; {
	case ref == nil:
		row("role", checkWarn, fmt.Sprintf("RoleBinding %s not found, so the tenant's reconciler may do nothing; %s", binding, confine))
	case ref.Kind == "ClusterRole" && ref.Name == render.DefaultClusterRole:
		row("role", checkFail, fmt.Sprintf("RoleBinding %s grants ClusterRole cluster-admin, with which the tenant can remove its own guardrails; %s (admin by default)", binding, confine))
	default:
		row("role", checkPass, fmt.Sprintf("RoleBinding %s grants %s %s", binding, ref.Kind, ref.Name))
	}

	for _, g := range []struct {
		check, kind, name, flag string
		present                 bool
	}{
		{"quota", "ResourceQuota", render.QuotaName, "--quota RESOURCE=QUANTITY", t.quota},
		{"limit-range", "LimitRange", render.LimitRangeName, "--limit-range RESOURCE=REQUEST[/LIMIT]", t.limitRange},
		{"network-policy", "NetworkPolicy", render.NetworkPolicyName, "--network-policy isolate", t.networkPolicy},
	} {
		if g.present {
			row(g.check, checkPass, fmt.Sprintf("%s %s is present", g.kind, g.name))
		} else {
			row(g.check, checkWarn, fmt.Sprintf("no %s %s; run \"kubectl tenant add %s %s --confine %s\" with the tenant's other guardrail flags", g.kind, g.name, t.namespace, t.name, g.flag))
		}
	}
	return rows
}

// tenantIdentity is how the API server sees a tenant's ServiceAccount:
// its user name and the groups every ServiceAccount token carries.
func tenantIdentity(namespace, serviceAccount string) rest.ImpersonationConfig {
	return rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + serviceAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
}

// probeAll runs each tenant's probes, --concurrency tenants at a time, and
// returns each tenant's rows in the order of the tenants.
func (o *CheckOptions) probeAll(ctx context.Context, c *clients, facts *checkFacts) ([][]checkRow, error) {
	out := make([][]checkRow, len(facts.tenants))
	// The impersonating clients share one rate limiter, so --concurrency
	// bounds the load, not the number of tenants; client-go's transport
	// cache gives them all the same connections, since impersonation is
	// only a header.
	limiter := flowcontrol.NewTokenBucketRateLimiter(c.config.QPS, c.config.Burst)
	policyInstalled := facts.cluster.policy && facts.cluster.binding != nil
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(o.Concurrency)
	for i, t := range facts.tenants {
		// Another tenant's namespace to try writing into: the next one,
		// or Flux's when there is only one tenant.
		other := render.FluxNamespace
		if n := len(facts.tenants); n > 1 {
			other = facts.tenants[(i+1)%n].namespace
		}
		group.Go(func() error {
			config := rest.CopyConfig(c.config)
			config.Impersonate = tenantIdentity(t.namespace, t.serviceAccount())
			config.RateLimiter = limiter
			as, err := dynamic.NewForConfig(config)
			if err != nil {
				return err
			}
			p := prober{reviews: c.dynamic, as: as, policyInstalled: policyInstalled}
			rows := tenantRows(t, o.KustomizationName)
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
func (p prober) probe(ctx context.Context, t *tenantFacts, other string) []checkRow {
	identity := tenantIdentity(t.namespace, t.serviceAccount())
	user := identity.UserName
	fix := fmt.Sprintf(`run "kubectl tenant add %s %s --confine" so that the guardrail policy protects it`, t.namespace, t.name)
	if !p.policyInstalled {
		fix = bootstrapLockdownFix + " to install the guardrail policy"
	}
	rows := make([]checkRow, 4)
	var wg sync.WaitGroup
	wg.Go(func() {
		allowed, err := p.review(ctx, identity, map[string]any{"verb": "create", "group": rbacv1.GroupName, "resource": "clusterrolebindings"})
		rows[0] = reviewRow(t.namespace, "no-cluster-role-bindings", user, "create ClusterRoleBindings", allowed, err,
			"it can bind itself cluster-admin: remove what grants it (kubectl get clusterrolebindings -o wide)")
	})
	wg.Go(func() {
		allowed, err := p.review(ctx, identity, map[string]any{"verb": "create", "resource": "configmaps", "namespace": other})
		rows[1] = reviewRow(t.namespace, "no-writes-elsewhere", user, "create ConfigMaps in namespace "+other, allowed, err,
			fmt.Sprintf("it can write outside its namespace: remove the binding that grants it (kubectl get rolebindings -n %s -o wide; kubectl get clusterrolebindings -o wide)", other))
	})
	wg.Go(func() {
		if !t.quota {
			rows[2] = checkRow{Scope: t.namespace, Check: "quota-protected", Result: checkWarn,
				Detail: fmt.Sprintf("skipped: no ResourceQuota %s to try deleting", render.QuotaName)}
			return
		}
		err := p.as.Resource(resourceQuotaGVR).Namespace(t.namespace).Delete(ctx, render.QuotaName, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		rows[2] = dryRunRow(t.namespace, "quota-protected", "delete its ResourceQuota "+render.QuotaName, err, fix)
	})
	wg.Go(func() {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"dry-run"}}}`, guardrailAnnotation)
		_, err := p.as.Resource(configMapGVR).Namespace(t.namespace).Patch(ctx, render.TenantVarsConfigMapName, types.MergePatchType, []byte(patch),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: FieldManager})
		rows[3] = dryRunRow(t.namespace, "tenant-vars-protected", "change its ConfigMap "+render.TenantVarsConfigMapName, err, fix)
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
	result, err := p.reviews.Resource(subjectAccessReview).Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	allowed, _, _ := unstructured.NestedBool(result.Object, "status", "allowed")
	return allowed, nil
}

// reviewRow judges a SubjectAccessReview of whether user may do action:
// allowed is FAIL.
func reviewRow(scope, check, user, action string, allowed bool, err error, fix string) checkRow {
	row := checkRow{Scope: scope, Check: check}
	switch {
	case apierrors.IsForbidden(err):
		row.Result, row.Detail = checkWarn, fmt.Sprintf("not checked: you may not create SubjectAccessReviews (%s); run check as a cluster admin", oneLine(err.Error()))
	case err != nil:
		row.Result, row.Detail = checkFail, fmt.Sprintf("not checked: %s; run check again", oneLine(err.Error()))
	case allowed:
		row.Result, row.Detail = checkFail, fmt.Sprintf("%s may %s, so %s", user, action, fix)
	default:
		row.Result, row.Detail = checkPass, fmt.Sprintf("%s may not %s", user, action)
	}
	return row
}

// dryRunRow judges a dry-run write as the tenant: refused is PASS, and
// accepted (it would have happened) is FAIL.
func dryRunRow(scope, check, action string, err error, fix string) checkRow {
	row := checkRow{Scope: scope, Check: check}
	switch {
	case err == nil:
		row.Result, row.Detail = checkFail, fmt.Sprintf("the tenant can %s: %s", action, fix)
	case isImpersonationDenied(err):
		row.Result, row.Detail = checkWarn, fmt.Sprintf("not checked: you may not impersonate the tenant's ServiceAccount (%s); run check as a cluster admin", oneLine(err.Error()))
	case isGuardrailDenial(err):
		row.Result, row.Detail = checkPass, fmt.Sprintf("the tenant may not %s: denied by the guardrail policy", action)
	case apierrors.IsForbidden(err):
		row.Result, row.Detail = checkPass, fmt.Sprintf("the tenant may not %s: forbidden by RBAC", action)
	case apierrors.IsNotFound(err):
		row.Result, row.Detail = checkWarn, fmt.Sprintf("not checked: nothing to %s (%s)", action, oneLine(err.Error()))
	default:
		row.Result, row.Detail = checkFail, fmt.Sprintf("not checked: %s; run check again", oneLine(err.Error()))
	}
	return row
}

// isImpersonationDenied tells the caller's missing impersonate permission
// apart from the tenant being refused: both are 403s.
func isImpersonationDenied(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "cannot impersonate")
}

// isGuardrailDenial recognises a refusal by an admission policy: a 403
// with the policy's reason Forbidden, or a 422 when a policy sets none.
func isGuardrailDenial(err error) bool {
	msg := err.Error()
	byPolicy := strings.Contains(msg, "ValidatingAdmissionPolicy") || strings.Contains(msg, "guardrail")
	return byPolicy && (apierrors.IsForbidden(err) || apierrors.IsInvalid(err))
}
