package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/posture"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
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

// CheckOptions are the inputs of `kubectl tenant check`.
type CheckOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	Selection         *tenant.Selection
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
		Selection:         tenant.NewSelection(true),
		KustomizationName: render.DefaultKustomizationName,
		Concurrency:       32,
	}
	cmd := &cobra.Command{
		Use:   "check [NAMESPACE...]",
		Short: "Report, per tenant and for the cluster, whether tenants are locked in",
		Long: `Check the security posture of the cluster and of each tenant, one row per check:
PASS, WARN or FAIL, with the reason and, when it is not PASS, what to run.

For the cluster: Flux's lockdown flags on the running controllers, and the guardrail
and owners-and-sources ValidatingAdmissionPolicies with their bindings (all from
"bootstrap --lockdown"). For each tenant: its Kustomization applies as the tenant's
ServiceAccount, from a source in its own namespace; its role is not cluster-admin; its
quota, limit range and network policy exist; and, asked as the tenant's ServiceAccount,
it may not create ClusterRoleBindings or write into another tenant's namespace
(SubjectAccessReviews), and may not delete its quota or change its tenant-vars
(server-side dry runs, impersonating it, because only a real request passes through
admission policies; nothing is changed).

A tenant's namespaces are checked as one team: each names the tenant's namespaces
among those checked, its owners (KIND:NAME=ROLE) and allowed sources, and FAILs when
it lacks an owner, an allowed source prefix or the tenant-policy ConfigMap that
another of them has. A confined tenant whose sources may fetch from any URL WARNs.

The exit code is 1 when any check FAILs, so CI can run it; WARN alone exits 0.
Without namespaces, --tenant-name or -l, every tenant is checked.`,
		Example: checkExample,
		RunE:    runCommand(o),
	}
	addSelectionFlags(cmd, o.Selection, configFlags)
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
	o.Selection.Complete(args)
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
	return o.Selection.Validate()
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
	qps, burst := concurrentRate(o.Concurrency)
	c, err := newClients(o.configFlags, o.ErrOut, qps, burst)
	if err != nil {
		return err
	}
	var namespaces []*unstructured.Unstructured
	err = o.Selection.EachObject(ctx, c, func(ns *unstructured.Unstructured) error {
		namespaces = append(namespaces, ns)
		return nil
	})
	if err != nil {
		return err
	}
	reader := &tenant.Reader{Clients: c, LabelKey: o.Selection.LabelKey, KustomizationName: o.KustomizationName, ChunkSize: o.Selection.ChunkSize}
	facts, _, err := posture.Read(ctx, reader, namespaces, false)
	if err != nil {
		return err
	}
	rows := posture.ClusterRows(facts.Cluster)
	tenantRows, err := posture.ProbeAll(ctx, c, facts, o.KustomizationName, o.Concurrency)
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
func checkError(rows []posture.Row) error {
	failed := 0
	for _, r := range rows {
		if r.Result == posture.Fail {
			failed++
		}
	}
	if failed == 0 {
		return nil
	}
	return &checkFailedError{failed: failed, total: len(rows)}
}

func (o *CheckOptions) print(rows []posture.Row) error {
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
	fmt.Fprintf(o.ErrOut, "%d checks: %d PASS, %d WARN, %d FAIL\n", len(rows), counts[posture.Pass], counts[posture.Warn], counts[posture.Fail])
	return nil
}

func countResults(rows []posture.Row) map[posture.Result]int {
	counts := map[posture.Result]int{}
	for _, r := range rows {
		counts[r.Result]++
	}
	return counts
}

// checkReport is the report as one object for -o json|yaml: the cluster's
// rows, then each tenant's rows under its namespace, and the counts.
func checkReport(rows []posture.Row) *unstructured.Unstructured {
	cluster := []any{}
	tenants := []any{}
	byNamespace := map[string]map[string]any{}
	for _, r := range rows {
		row := map[string]any{"check": r.Check, "result": string(r.Result), "detail": r.Detail}
		if r.Scope == posture.ClusterScope {
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
			"pass":  int64(counts[posture.Pass]),
			"warn":  int64(counts[posture.Warn]),
			"fail":  int64(counts[posture.Fail]),
		},
		"cluster": cluster,
		"tenants": tenants,
	}}
}
