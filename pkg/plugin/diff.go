package plugin

import (
	"context"
	"errors"
	"fmt"
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

	Selection *tenantSelection
	// settings holds add's setting flags; they are used only when the
	// user gave one (flagsGiven), and then render every tenant as add would.
	settings    *AddOptions
	flagsGiven  bool
	Concurrency int
}

// NewCmdDiff builds `kubectl tenant diff`.
func NewCmdDiff(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DiffOptions{
		configFlags: configFlags,
		IOStreams:   streams,
		Selection:   newTenantSelection(false),
		settings:    NewAddOptions(configFlags, streams),
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
	o.Selection.addFlags(cmd, configFlags)
	o.settings.addSettingFlags(cmd)
	cmd.Flags().IntVar(&o.Concurrency, "concurrency", o.Concurrency, "How many server-side dry runs are sent at once")
	return cmd
}

// Complete takes the selection and, when any is given, add's flags.
func (o *DiffOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.complete(args)
	for _, name := range settingFlags() {
		if cmd.Flags().Changed(name) {
			o.flagsGiven = true
		}
	}
	if !o.flagsGiven {
		return nil
	}
	return o.settings.completeSettings(cmd)
}

// Validate checks the selection, or that -f stands alone.
func (o *DiffOptions) Validate() error {
	if o.Concurrency < 1 {
		return fmt.Errorf("invalid --concurrency %d: must be at least 1", o.Concurrency)
	}
	if o.settings.Filename != "" {
		s := o.Selection
		if len(s.Namespaces) > 0 || s.Name != "" || s.Selector != "" || s.All {
			return fmt.Errorf("-f %s cannot be combined with tenant namespaces, --tenant-name, -l or --all: the file names the tenants", o.settings.Filename)
		}
		for i, t := range o.settings.tenants {
			if err := t.Validate(); err != nil {
				return fmt.Errorf("-f %s: tenant %d (%s): %w", o.settings.Filename, i+1, t.Namespace, err)
			}
		}
		return nil
	}
	return o.Selection.validate()
}

// objectDiff is one object's two sides, as the diff program sees them;
// nil for a side where the object is absent.
type objectDiff struct {
	name          string // kubectl diff's file name: group.version.Kind.namespace.name
	live, desired map[string]any
}

// Run reads the tenants back, renders them, and runs the diff program on
// the objects that differ.
func (o *DiffOptions) Run(ctx context.Context) error {
	c, err := newClients(o.configFlags, o.ErrOut, float32(25*o.Concurrency), 50*o.Concurrency)
	if err != nil {
		return err
	}
	tenants, err := o.readTenants(ctx, c)
	if err != nil {
		return err
	}
	if o.flagsGiven {
		if err := o.settings.confine.resolveSource(ctx, c, o.settings.Tenant.Source, o.settings.Tenant.Confinement); err != nil {
			return err
		}
	}
	a := &applier{client: c.dynamic, mapper: tenantRESTMapper(), dryRun: DryRunServer, forceConflicts: true}
	var mu sync.Mutex
	var diffs []objectDiff
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(o.Concurrency)
	for _, t := range tenants {
		desired, err := o.desired(t)
		if err != nil {
			return err
		}
		group.Go(func() error {
			found, err := diffTenant(groupCtx, a, t, desired)
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
	slices.SortFunc(diffs, func(a, b objectDiff) int { return strings.Compare(a.name, b.name) })
	return o.runDiffProgram(diffs)
}

// readTenants reads back the selected tenants, or those of -f, of which
// any not on the cluster yet are empty.
func (o *DiffOptions) readTenants(ctx context.Context, c *clients) ([]*liveTenant, error) {
	reader := &liveReader{c: c, labelKey: o.Selection.LabelKey, chunkSize: o.Selection.ChunkSize}
	if o.settings.Filename == "" {
		namespaces, err := selectLive(ctx, c, o.Selection, o.ErrOut)
		if err != nil {
			return nil, err
		}
		return reader.read(ctx, namespaces)
	}
	var namespaces []*unstructured.Unstructured
	var absent []string
	for _, t := range o.settings.tenants {
		ns, err := c.dynamic.Resource(namespaceGVR).Get(ctx, t.Namespace, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			absent = append(absent, t.Namespace)
		case err != nil:
			return nil, fmt.Errorf("reading namespace %q: %w", t.Namespace, err)
		default:
			namespaces = append(namespaces, ns)
		}
	}
	tenants, err := reader.read(ctx, namespaces)
	if err != nil {
		return nil, err
	}
	for _, ns := range absent {
		tenants = append(tenants, &liveTenant{Namespace: ns})
	}
	return tenants, nil
}

// desired is what the tenant is held to: add's render of the flags or of
// the file's entry, else of its declared settings.
func (o *DiffOptions) desired(t *liveTenant) ([]*unstructured.Unstructured, error) {
	options := t.Declared
	if o.flagsGiven {
		options = o.settings.Tenant
		for _, entry := range o.settings.tenants {
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
	return t.render(options)
}

// diffTenant compares each object of the desired render with its live
// counterpart. An object that looks unchanged here is not sent: applying
// the fields kubectl-tenant already owns, with the values they already
// have, changes nothing. The others are server-side dry-run applied, so
// the diff shows what the API server would make of them.
func diffTenant(ctx context.Context, a *applier, t *liveTenant, desired []*unstructured.Unstructured) ([]objectDiff, error) {
	var out []objectDiff
	live := t.Objects.all()
	for _, want := range desired {
		got := findObject(live, want)
		wantPaths := leafPaths(want.Object)
		if got == nil {
			out = append(out, objectDiff{name: diffFileName(want), desired: project(want.Object, wantPaths)})
			continue
		}
		owners := t.ownersOf(got)
		paths := slices.Clone(wantPaths)
		var undeclared []fieldPath // hand edits the render does not set
		for _, o := range owners {
			for _, p := range o.leaves() {
				if isFluxBookkeeping(p) || containsPath(paths, p) {
					continue
				}
				switch {
				case o.Manager == FieldManager && o.Operation == metav1.ManagedFieldsOperationApply:
					paths = append(paths, p)
				case inSettingArea(got, p) && t.noteHandEdit(got, p, false):
					paths = append(paths, p)
					undeclared = append(undeclared, p)
				}
			}
		}
		liveView := project(got.Object, paths)
		// The desired side never holds a hand edit the render does not set.
		shown := slices.DeleteFunc(slices.Clone(paths), func(p fieldPath) bool { return containsPath(undeclared, p) })
		// Locally: the render's fields, and the live fields an apply would
		// leave, those another declarer also owns.
		local := project(want.Object, wantPaths)
		for _, p := range shown {
			if containsPath(wantPaths, p) {
				continue
			}
			if slices.ContainsFunc(owners, func(o fieldOwner) bool { return o.Manager != FieldManager && o.owns(p) }) {
				if v, ok := valueAt(got.Object, p); ok {
					setAt(local, p, v)
				}
			}
		}
		if equalDefaulted(liveView, local) {
			continue
		}
		merged, err := a.apply(ctx, want)
		switch {
		case err != nil && isImmutableRoleRef(err):
			// add --recreate would delete and create it: the render is the result.
			merged = want
		case err != nil:
			return out, fmt.Errorf("tenant %s: server-side dry run: %w", t.Namespace, err)
		}
		desiredView := project(merged.Object, shown)
		if equalJSON(liveView, desiredView) {
			continue
		}
		out = append(out, objectDiff{name: diffFileName(want), live: liveView, desired: desiredView})
	}
	return out, nil
}

func containsPath(paths []fieldPath, p fieldPath) bool {
	return slices.ContainsFunc(paths, func(q fieldPath) bool { return slices.Equal(q, p) })
}

// inSettingArea reports whether a field the render does not set still
// belongs to the tenant's settings: a variable in tenant-vars, a limit in
// the quota. A label or annotation someone adds, or a controller's
// finalizer, is theirs, and diff leaves it alone as kubectl diff does.
func inSettingArea(obj *unstructured.Unstructured, p fieldPath) bool {
	switch obj.GetKind() {
	case "ConfigMap":
		return obj.GetName() == render.TenantVarsConfigMapName && p[0] == "data"
	case "ResourceQuota":
		return hasPrefix(p, fieldPath{"spec", "hard"})
	}
	return false
}

// diffFileName names an object's file as kubectl diff does.
func diffFileName(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	parts := []string{gvk.Version, gvk.Kind}
	if gvk.Group != "" {
		parts = append([]string{gvk.Group}, parts...)
	}
	if ns := obj.GetNamespace(); ns != "" {
		parts = append(parts, ns)
	}
	return strings.Join(append(parts, obj.GetName()), ".")
}

// runDiffProgram writes both sides into two directories, as kubectl diff
// does, and runs `diff -u -N` or KUBECTL_EXTERNAL_DIFF on them.
func (o *DiffOptions) runDiffProgram(diffs []objectDiff) error {
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
		for side, obj := range map[string]map[string]any{from: d.live, to: d.desired} {
			if obj == nil {
				continue
			}
			data, err := render.MarshalYAML(obj)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(side, d.name), data, 0o600); err != nil {
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
