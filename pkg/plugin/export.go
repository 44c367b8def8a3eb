package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

const exportExample = `  # Write every tenant to git, for a Flux Kustomization to reconcile
  kubectl tenant export --all --to clusters/prod/tenants

  # The tenants of one team, to stdout
  kubectl tenant export -l team=payments -o yaml

  # The whole fleet as one TenantFleet file, to keep in git and re-create
  # on another cluster (with that cluster's kubeconfig)
  kubectl tenant export --all --format tenants --to tenants.yaml
  kubectl tenant apply -f tenants.yaml`

// exportHeader opens the kustomization.yaml that export writes. It marks
// the file as export's, and so the tenant files it lists: a re-run may
// rewrite and remove those, and nothing else in the directory.
const exportHeader = `# Written by kubectl tenant export: one file per tenant, as "kubectl tenant add
# ... --dry-run=client -o yaml" renders it. A re-run rewrites the files that
# changed and removes those of tenants that are gone; it touches no other file.
`

// kustomizationFile is the file export keeps the tenant list in.
const kustomizationFile = "kustomization.yaml"

// The formats of export: the rendered objects, one file a tenant, for
// Flux to reconcile; or the settings, one TenantFleet file, for apply -f.
const (
	exportManifests = "manifests"
	exportTenants   = "tenants"
)

// ExportOptions are the inputs of `kubectl tenant export`.
type ExportOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	Selection *tenant.Selection
	To        string
	Format    string

	output *output
}

// NewCmdExport builds `kubectl tenant export`.
func NewCmdExport(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExportOptions{
		configFlags: configFlags,
		outputFlags: newObjectOutputFlags("exported"),
		IOStreams:   streams,
		Selection:   tenant.NewSelection(false),
	}
	cmd := &cobra.Command{
		Use:   "export [NAMESPACE...] [--tenant-name NAME] [-l SELECTOR] [--all] [--format manifests|tenants] (--to DIR|FILE | -o yaml)",
		Short: "Write tenants for git: the manifests add renders, or a TenantFleet file for apply -f",
		Long: `Export reads each selected tenant's settings back from the cluster (its name,
variables, source, path, interval, role, Kustomization name, owners, allowed
sources, confinement and guardrails) and writes them in one of two formats.

--format manifests (the default) writes each tenant as "kubectl tenant add ...
--dry-run=client -o yaml" renders those settings: to DIR/<namespace>.yaml, with
DIR/kustomization.yaml listing them, so that a fleet made with "kubectl tenant
add" becomes a tree a Flux Kustomization reconciles (-o yaml prints them
instead). A re-run rewrites only the files that changed and removes the files
of tenants that are gone (only files it wrote).

--format tenants writes the settings as one TenantFleet document, one entry a
tenant with its namespaces, to stdout or to the file --to names: the file that
"kubectl tenant apply -f" (and "add -f") reads, so a fleet can be kept in git
and re-created on another cluster. A setting the file cannot hold as it is
live (namespaces of one tenant that differ in role or interval, say) is named
on stderr. Values equal to their defaults are left out. The credentials
of a confined tenant's own source are written as a reference to their Secret
(secretRef), never its data: the Secret must be copied to another cluster
separately.

What no flag of add expresses (a field set by hand, an extra object) is reported
on stderr, not silently dropped; a hand-edited setting (a variable) is exported
as it is live, with a warning.`,
		Example: exportExample,
		RunE:    runCommand(o),
	}
	addSelectionFlags(cmd, o.Selection, configFlags)
	cmd.Flags().StringVar(&o.To, "to", "", "With --format manifests, the directory to write the tenants' files and their kustomization.yaml into; with --format tenants, the file to write (not a directory; default stdout)")
	cmd.Flags().StringVar(&o.Format, "format", exportManifests, "What to write: manifests (the objects add renders, one file a tenant) or tenants (one TenantFleet file for kubectl tenant apply -f)")
	o.outputFlags.addFlags(cmd)
	return cmd
}

// Complete builds the printer; --format tenants prints no objects, so it
// needs none.
func (o *ExportOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.Complete(args)
	if o.Format == exportTenants {
		return nil
	}
	var err error
	o.output, err = o.outputFlags.toOutput(tenant.DryRunNone)
	return err
}

// Validate checks the format, the selection and that the tenants go to
// one place.
func (o *ExportOptions) Validate() error {
	format := o.outputFlags.format()
	switch o.Format {
	case exportManifests:
		switch {
		case o.To == "" && format == "":
			return fmt.Errorf("nowhere to export to: give --to DIR, or -o yaml for stdout")
		case o.To != "" && format != "":
			return fmt.Errorf("--to %s cannot be combined with -o %s: give either", o.To, format)
		case format != "" && format != "yaml" && format != "json":
			return fmt.Errorf("invalid output format %q: export prints yaml or json", format)
		}
	case exportTenants:
		// The file is YAML by definition; -o yaml says nothing more.
		if format != "" && format != "yaml" {
			return fmt.Errorf("-o %s does not apply to --format tenants, which writes one YAML document: leave -o out", format)
		}
		if fi, err := os.Stat(o.To); o.To != "" && err == nil && fi.IsDir() {
			return fmt.Errorf("--to %s is a directory: --format tenants writes one file, give its path (for example %s)", o.To, filepath.Join(o.To, "tenants.yaml"))
		}
	default:
		return fmt.Errorf("invalid --format %q: must be %s or %s", o.Format, exportManifests, exportTenants)
	}
	return o.Selection.Validate()
}

// Run reads the tenants back and writes them in the format asked for.
func (o *ExportOptions) Run(ctx context.Context) error {
	// A directory export may not write to is refused before anything is read.
	var owned []string
	if o.To != "" && o.Format == exportManifests {
		var err error
		if owned, err = readExportList(filepath.Join(o.To, kustomizationFile)); err != nil {
			return err
		}
	}
	c, err := newClients(o.configFlags, o.ErrOut, 200, 400)
	if err != nil {
		return err
	}
	namespaces, err := tenant.SelectLive(ctx, c, o.Selection, o.ErrOut)
	if err != nil {
		return err
	}
	reader := &tenant.Reader{Clients: c, LabelKey: o.Selection.LabelKey, ChunkSize: o.Selection.ChunkSize}
	tenants, err := reader.Read(ctx, namespaces)
	if err != nil {
		return err
	}
	if o.Format == exportTenants {
		return o.writeFleet(tenants)
	}
	return o.writeManifests(ctx, c, tenants, owned)
}

// warnExport says on stderr what the export of t does not hold as it is
// live, the same for both formats: hand edits (a hand-edited setting is
// exported as live, any other hand edit is not) and what no flag of add
// expresses. It fails when the settings do not render, as add would,
// since neither format could then be applied.
func warnExport(errOut io.Writer, t *tenant.Tenant) error {
	for _, edit := range t.HandEdits {
		if edit.Setting {
			fmt.Fprintf(errOut, "warning: tenant %s: a hand-edited setting, exported as it is live: %s\n", t.Namespace, edit)
		} else {
			fmt.Fprintf(errOut, "warning: tenant %s: a hand edit, not exported (the file holds what add renders): %s\n", t.Namespace, edit)
		}
	}
	for _, what := range t.Inexpressible {
		fmt.Fprintf(errOut, "warning: tenant %s: not exported: %s\n", t.Namespace, what)
	}
	if t.Rendered == nil {
		if _, err := t.Render(t.Settings); err != nil {
			return err
		}
	}
	return nil
}

// writeManifests writes or prints each tenant's render.
func (o *ExportOptions) writeManifests(ctx context.Context, c *tenant.Clients, tenants []*tenant.Tenant, owned []string) error {
	files := make(map[string][]byte, len(tenants))
	for _, t := range tenants {
		if err := warnExport(o.ErrOut, t); err != nil {
			return err
		}
		if c := t.Settings.Confinement; c != nil {
			for _, secret := range c.Source.Secrets {
				fmt.Fprintf(o.ErrOut, "warning: tenant %s: the export holds the credentials of Secret %s: encrypt it (for example with SOPS) before it goes to git\n", t.Namespace, secret.Name)
			}
		}
		objs := t.Rendered
		if o.To == "" {
			if err := o.output.printAll(o.Out, objs); err != nil {
				return err
			}
			continue
		}
		// Each file on its own, as add prints one tenant.
		var buf bytes.Buffer
		printer := &yamlPrinter{}
		for _, obj := range objs {
			if err := printer.PrintObj(obj, &buf); err != nil {
				return err
			}
		}
		files[t.Namespace+".yaml"] = buf.Bytes()
	}
	if o.To == "" {
		return nil
	}
	return o.writeTree(ctx, c, files, owned)
}

// writeFleet writes the tenants' settings as one TenantFleet document, to
// stdout or to the file of --to, after saying on stderr what it does not
// hold: hand edits, what the file format cannot say, and the Secrets it
// only names.
func (o *ExportOptions) writeFleet(tenants []*tenant.Tenant) error {
	var options []render.TenantOptions
	byName := map[string][]render.TenantOptions{}
	for _, t := range tenants {
		if err := warnExport(o.ErrOut, t); err != nil {
			return err
		}
		options = append(options, t.Settings)
		byName[t.Settings.Name] = append(byName[t.Settings.Name], t.Settings)
	}
	fleet := render.FleetOf(options)
	for _, spec := range fleet.Tenants {
		for _, gap := range render.ExportGaps(byName[spec.Name]) {
			fmt.Fprintf(o.ErrOut, "warning: tenant %s: %s\n", spec.Name, gap)
		}
		if c := spec.Confinement; c != nil && c.Credentials != nil && c.Credentials.SecretRef != "" {
			fmt.Fprintf(o.ErrOut, "warning: tenant %s: the file references Secret %s of its own source, which is not in the file: copy it to any other cluster you apply the file to, encrypted (for example with SOPS)\n", spec.Name, c.Credentials.SecretRef)
		}
	}
	data, err := fleet.YAML()
	if err != nil {
		return err
	}
	// A file apply would refuse is worse than none: it is found out only
	// when it is needed, perhaps on another cluster.
	if err := readsBack(data); err != nil {
		return fmt.Errorf("the export would not be read back by apply -f, so it is not written: %w", err)
	}
	if o.To == "" {
		_, err := o.Out.Write(data)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.To), 0o755); err != nil {
		return fmt.Errorf("--to %s: %w", o.To, err)
	}
	changed, err := writeIfChanged(o.To, data)
	if err != nil {
		return fmt.Errorf("--to %s: %w", o.To, err)
	}
	state := "written"
	if !changed {
		state = "unchanged"
	}
	fmt.Fprintf(o.Out, "%d tenants (%d namespaces) exported to %s: %s\n", len(fleet.Tenants), len(options), o.To, state)
	return nil
}

// readsBack checks that a fleet file is read as apply -f reads it: the
// same Settings, so every check apply makes is made here too.
func readsBack(data []byte) error {
	s := tenant.NewSettings()
	s.Filename = "-"
	base, err := s.Options(render.DefaultTenantOptions())
	if err != nil {
		return err
	}
	tenants, err := s.Tenants(base, nil, bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.ValidateTenants(tenants)
}

// writeTree writes the tenants' files and kustomization.yaml into o.To,
// each only when its bytes change, and removes the files it wrote before
// (owned) for tenants that no longer exist.
func (o *ExportOptions) writeTree(ctx context.Context, c *tenant.Clients, files map[string][]byte, owned []string) error {
	if err := os.MkdirAll(o.To, 0o755); err != nil {
		return fmt.Errorf("--to %s: %w", o.To, err)
	}
	listed := map[string]bool{}
	for name := range files {
		listed[name] = true
	}
	var removed []string
	for _, name := range owned {
		if listed[name] {
			continue
		}
		gone, err := o.tenantGone(ctx, c, strings.TrimSuffix(name, ".yaml"))
		if err != nil {
			return err
		}
		if !gone {
			listed[name] = true
			continue
		}
		if err := os.Remove(filepath.Join(o.To, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed = append(removed, name)
	}
	var written, unchanged int
	for _, name := range sortedFileNames(files) {
		changed, err := writeIfChanged(filepath.Join(o.To, name), files[name])
		if err != nil {
			return err
		}
		if changed {
			written++
			fmt.Fprintf(o.Out, "%s written\n", filepath.Join(o.To, name))
		} else {
			unchanged++
		}
	}
	for _, name := range removed {
		fmt.Fprintf(o.Out, "%s removed: its tenant is gone\n", filepath.Join(o.To, name))
	}
	resources := make([]string, 0, len(listed))
	for name := range listed {
		resources = append(resources, name)
	}
	slices.Sort(resources)
	list, err := yaml.Marshal(map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  resources,
	})
	if err != nil {
		return err
	}
	if _, err := writeIfChanged(filepath.Join(o.To, kustomizationFile), append([]byte(exportHeader), list...)); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%d tenants exported to %s: %d files written, %d unchanged, %d removed\n", len(files), o.To, written, unchanged, len(removed))
	return nil
}

// readExportList reads the tenant files a previous export listed; a
// kustomization.yaml that export did not write is refused, so that export
// never takes over a directory someone else keeps.
func readExportList(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(data, []byte(exportHeader)) {
		return nil, fmt.Errorf("%s was not written by kubectl tenant export: give --to a directory of its own", path)
	}
	var list struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	// Only plain tenant files: a hand-added entry such as ../other is not
	// export's to remove.
	return slices.DeleteFunc(list.Resources, func(name string) bool {
		return strings.ContainsRune(name, '/') || !strings.HasSuffix(name, ".yaml")
	}), nil
}

// tenantGone reports whether the tenant of an earlier export's file no
// longer exists; only then is its file removed.
func (o *ExportOptions) tenantGone(ctx context.Context, c *tenant.Clients, namespace string) (bool, error) {
	if o.Selection.All {
		return true, nil // --all read every tenant, and this one was not among them
	}
	ns, err := c.Metadata.Resource(tenant.NamespaceGVR).Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading namespace %q: %w", namespace, err)
	}
	_, labelled := ns.GetLabels()[o.Selection.LabelKey]
	return !labelled || ns.GetDeletionTimestamp() != nil, nil
}

func sortedFileNames(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// writeIfChanged writes data to path unless it holds data already; a
// rename makes the write all or nothing.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), path)
}
