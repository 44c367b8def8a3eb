package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

const diffExample = `  # Has anyone changed tenant foo since kubectl tenant (or Flux) applied it?
  kubectl tenant diff foo

  # Every tenant, in CI: exit code 0 when nothing differs, 1 when something does
  kubectl tenant diff --all

  # What would "kubectl tenant add foo NAME --var TIER=gold" change?
  kubectl tenant diff foo --var TIER=gold

  # A fleet file against the cluster, with another diff program
  KUBECTL_EXTERNAL_DIFF="meld" kubectl tenant diff -f tenants.csv`

// DiffOptions are the inputs of `kubectl tenant diff`.
type DiffOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Selection *tenant.Selection
	// Settings are add's; when the user gives any, every tenant is
	// rendered from them as add would, else from its declared settings.
	Settings    *tenant.Settings
	Concurrency int

	// base is what the settings say for every tenant, and tenants each
	// tenant of -f.
	base    render.TenantOptions
	tenants []render.TenantOptions
	// listed are the namespaces of -f.
	listed map[string]bool
}

// NewCmdDiff builds `kubectl tenant diff`.
func NewCmdDiff(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DiffOptions{
		configFlags: configFlags,
		IOStreams:   streams,
		Selection:   tenant.NewSelection(false),
		Settings:    tenant.NewSettings(),
		Concurrency: 16,
	}
	cmd := &cobra.Command{
		Use:   "diff [NAMESPACE...] [--tenant-name NAME] [-l SELECTOR] [--all] [-f FILE] [add's flags]",
		Short: "Show how tenants on the cluster differ from what kubectl tenant declares",
		Long: `Diff renders each selected tenant, server-side dry-run applies it as kubectl
tenant's field manager, and prints a unified diff of the live objects against the
result, one block per object, like kubectl diff.

With no flags beyond the selection, each tenant is rendered from its live settings
as its declarers (kubectl-tenant, or kustomize-controller for a tenant in git) set
them: a field someone changed by hand (kubectl edit, patch, label) shows as the
difference, and a hand-edited value the tenant's settings do not hold shows as
removed, since the cluster keeps no record of the value it replaced. With add's
flags (--var, --cluster-role, --path, --confine, -f FILE ...), each tenant is
rendered from them, as "kubectl tenant add" would apply it.

Only the fields kubectl tenant owns or would set are compared: no status, no
managedFields, no fields of other managers. The exit code is 0 when nothing
differs, 1 when something does, and greater than 1 on error. KUBECTL_EXTERNAL_DIFF
names another diff program, as for kubectl diff.`,
		Example: diffExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			// As kubectl diff: 1 means differences, anything above is a failure.
			err := runCommand(o)(cmd, args)
			var coded *exitCodeError
			if err != nil && !errors.As(err, &coded) {
				return withExitCode(2, err)
			}
			return err
		},
	}
	addSelectionFlags(cmd, o.Selection, configFlags)
	o.Settings.AddFlags(cmd.Flags())
	cmd.Flags().IntVar(&o.Concurrency, "concurrency", o.Concurrency, "How many server-side dry runs are sent at once")
	return cmd
}

// Complete takes the selection and, when any is given, add's flags.
func (o *DiffOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.Complete(args)
	if !o.Settings.Given() {
		return nil
	}
	base := render.DefaultTenantOptions()
	base.LabelKey = o.Selection.LabelKey
	var err error
	if o.base, err = o.Settings.Options(base); err != nil {
		return err
	}
	if o.tenants, err = o.Settings.Tenants(o.base, o.Selection.Namespaces, o.In); err != nil {
		return err
	}
	o.listed = map[string]bool{}
	for _, t := range o.tenants {
		o.listed[t.Namespace] = true
	}
	return nil
}

// Validate checks the selection, or that -f stands alone.
func (o *DiffOptions) Validate() error {
	if o.Concurrency < 1 {
		return fmt.Errorf("invalid --concurrency %d: must be at least 1", o.Concurrency)
	}
	if file := o.Settings.Filename; file != "" {
		s := o.Selection
		if len(s.Namespaces) > 0 || s.Name != "" || s.Selector != "" || s.All {
			return fmt.Errorf("-f %s cannot be combined with tenant namespaces, --tenant-name, -l or --all: the file names the tenants", file)
		}
		return o.Settings.ValidateTenants(o.tenants)
	}
	return o.Selection.Validate()
}

// Run reads the tenants back, renders them, and runs the diff program on
// the objects that differ.
func (o *DiffOptions) Run(ctx context.Context) error {
	qps, burst := concurrentRate(o.Concurrency)
	c, err := newClients(o.configFlags, o.ErrOut, qps, burst)
	if err != nil {
		return err
	}
	tenants, err := o.readTenants(ctx, c)
	if err != nil {
		return err
	}
	if o.Settings.Given() {
		if err := o.Settings.ResolveSource(ctx, c, o.base.Source, o.base.Confinement); err != nil {
			return err
		}
	}
	a := &tenant.Applier{Client: c.Dynamic, Mapper: tenant.RESTMapper(), DryRun: tenant.DryRunServer, ForceConflicts: true}
	var mu sync.Mutex
	var diffs []tenant.ObjectDiff
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(o.Concurrency)
	for _, t := range tenants {
		if o.unlistedNamespace(t.Namespace) {
			mu.Lock()
			diffs = append(diffs, tenant.Removed(t)...)
			mu.Unlock()
			continue
		}
		desired, err := o.desired(t)
		if err != nil {
			return err
		}
		group.Go(func() error {
			found, err := tenant.Diff(groupCtx, a, t, desired)
			mu.Lock()
			defer mu.Unlock()
			diffs = append(diffs, found...)
			return err
		})
	}
	if err := group.Wait(); err != nil {
		return err
	}
	// Who changed what by hand: the diff shows the values, not the hands.
	for _, t := range tenants {
		for _, edit := range t.HandEdits {
			fmt.Fprintf(o.ErrOut, "hand edit in tenant %s: %s\n", t.Namespace, edit)
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.SortFunc(diffs, func(a, b tenant.ObjectDiff) int { return strings.Compare(a.Name, b.Name) })
	return o.runDiffProgram(diffs)
}

// readTenants reads back the selected tenants, or those of -f, of which
// any not on the cluster yet are empty.
func (o *DiffOptions) readTenants(ctx context.Context, c *tenant.Clients) ([]*tenant.Tenant, error) {
	reader := &tenant.Reader{Clients: c, LabelKey: o.Selection.LabelKey, ChunkSize: o.Selection.ChunkSize}
	if o.Settings.Filename == "" {
		namespaces, err := tenant.SelectLive(ctx, c, o.Selection, o.ErrOut)
		if err != nil {
			return nil, err
		}
		return reader.Read(ctx, namespaces)
	}
	return o.readFileTenants(ctx, c, reader)
}

// readFileTenants reads back the tenants of -f, of which any not on the
// cluster yet are empty, and those the file no longer lists. One list of
// every tenant namespace serves both; a listed namespace that list does
// not hold (unlabelled, or being deleted) is read by itself.
func (o *DiffOptions) readFileTenants(ctx context.Context, c *tenant.Clients, reader *tenant.Reader) ([]*tenant.Tenant, error) {
	live, err := tenant.SelectAll(ctx, c, o.Selection.LabelKey, io.Discard)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*unstructured.Unstructured, len(live))
	for _, ns := range live {
		byName[ns.GetName()] = ns
	}
	var namespaces []*unstructured.Unstructured
	var absent []string
	for _, t := range o.tenants {
		ns := byName[t.Namespace]
		var err error
		if ns == nil {
			ns, err = c.Dynamic.Resource(tenant.NamespaceGVR).Get(ctx, t.Namespace, metav1.GetOptions{})
		}
		switch {
		case apierrors.IsNotFound(err):
			absent = append(absent, t.Namespace)
		case err != nil:
			return nil, fmt.Errorf("reading namespace %q: %w", t.Namespace, err)
		default:
			namespaces = append(namespaces, ns)
		}
	}
	unlisted := tenant.Unlisted(live, o.Selection.LabelKey, o.listed)
	for _, ns := range unlisted {
		fmt.Fprintf(o.ErrOut, "tenant %s: namespace %s is not in %s: apply -f %s --prune would delete it\n", ns.GetLabels()[o.Selection.LabelKey], ns.GetName(), o.Settings.Filename, o.Settings.Filename)
	}
	tenants, err := reader.Read(ctx, append(namespaces, unlisted...))
	if err != nil {
		return nil, err
	}
	for _, ns := range absent {
		tenants = append(tenants, &tenant.Tenant{Namespace: ns})
	}
	return tenants, nil
}

// unlistedNamespace reports whether ns is a tenant namespace that -f no
// longer lists.
func (o *DiffOptions) unlistedNamespace(ns string) bool {
	return o.Settings.Filename != "" && !o.listed[ns]
}

// desired is what the tenant is held to: add's render of the flags or of
// the file's entry, else of its declared settings.
func (o *DiffOptions) desired(t *tenant.Tenant) ([]*unstructured.Unstructured, error) {
	options := t.Declared
	if o.Settings.Given() {
		options = o.base
		for _, entry := range o.tenants {
			if entry.Namespace == t.Namespace {
				options = entry
			}
		}
		options.Namespace = t.Namespace
		if options.Name == "" {
			options.Name = t.Settings.Name
		}
		options.LabelKey = o.Selection.LabelKey
	}
	return t.Render(options)
}

// runDiffProgram writes both sides into two directories, as kubectl diff
// does, and runs `diff -u -N` or KUBECTL_EXTERNAL_DIFF on them.
func (o *DiffOptions) runDiffProgram(diffs []tenant.ObjectDiff) error {
	dir, err := os.MkdirTemp("", "kubectl-tenant-diff-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	from, to := filepath.Join(dir, "LIVE"), filepath.Join(dir, "MERGED")
	for _, d := range []string{from, to} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return err
		}
	}
	for _, d := range diffs {
		for side, obj := range map[string]map[string]any{from: d.Live, to: d.Desired} {
			if obj == nil {
				continue
			}
			data, err := render.MarshalYAML(obj)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(side, d.Name), data, 0o600); err != nil {
				return err
			}
		}
	}
	program, args := "diff", []string{"-u", "-N"}
	if external := os.Getenv("KUBECTL_EXTERNAL_DIFF"); external != "" {
		fields := strings.Fields(external)
		program, args = fields[0], nil
		// What kubectl lets through of the variable's arguments: options, not
		// shell syntax. Compiled here, not at start-up, for the one command
		// that needs it.
		option := regexp.MustCompile(`^[a-zA-Z0-9-=]+$`)
		for _, arg := range fields[1:] {
			if option.MatchString(arg) {
				args = append(args, arg)
			}
		}
	}
	cmd := exec.Command(program, append(args, from, to)...)
	cmd.Stdout, cmd.Stderr = o.Out, o.ErrOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		// A program that does not say (meld) still had differences to show.
		return withExitCode(1, nil)
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return withExitCode(1, nil)
	case exit != nil:
		return fmt.Errorf("%s exited with code %d", program, exit.ExitCode())
	default:
		return fmt.Errorf("running %s: %w (set KUBECTL_EXTERNAL_DIFF to a diff program)", program, err)
	}
}
