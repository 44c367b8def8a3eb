package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
  kubectl tenant export -l team=payments -o yaml`

// exportHeader opens the kustomization.yaml that export writes. It marks
// the file as export's, and so the tenant files it lists: a re-run may
// rewrite and remove those, and nothing else in the directory.
const exportHeader = `# Written by kubectl tenant export: one file per tenant, as "kubectl tenant add
# ... --dry-run=client -o yaml" renders it. A re-run rewrites the files that
# changed and removes those of tenants that are gone; it touches no other file.
`

// kustomizationFile is the file export keeps the tenant list in.
const kustomizationFile = "kustomization.yaml"

// ExportOptions are the inputs of `kubectl tenant export`.
type ExportOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	Selection *tenant.Selection
	To        string

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
		Use:   "export [NAMESPACE...] [--tenant-name NAME] [-l SELECTOR] [--all] (--to DIR | -o yaml)",
		Short: "Write tenants as the manifests add renders from their live settings, for git",
		Long: `Export reads each selected tenant's settings back from the cluster (its name,
variables, source, path, interval, role, Kustomization name, confinement and
guardrails) and writes it as "kubectl tenant add ... --dry-run=client -o yaml"
renders those settings: to DIR/<namespace>.yaml, with DIR/kustomization.yaml
listing them, so that a fleet made with "kubectl tenant add" becomes a tree a Flux
Kustomization reconciles. A re-run rewrites only the files that changed and
removes the files of tenants that are gone (only files it wrote).

What no flag of add expresses (a field set by hand, an extra object) is reported
on stderr, not silently dropped.`,
		Example: exportExample,
		RunE:    runCommand(o),
	}
	addSelectionFlags(cmd, o.Selection, configFlags)
	cmd.Flags().StringVar(&o.To, "to", "", "Directory to write the tenants' files and their kustomization.yaml into")
	o.outputFlags.addFlags(cmd)
	return cmd
}

// Complete builds the printer.
func (o *ExportOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Selection.Complete(args)
	var err error
	o.output, err = o.outputFlags.toOutput(tenant.DryRunNone)
	return err
}

// Validate checks the selection and that the tenants go to one place.
func (o *ExportOptions) Validate() error {
	format := o.outputFlags.format()
	switch {
	case o.To == "" && format == "":
		return fmt.Errorf("nowhere to export to: give --to DIR, or -o yaml for stdout")
	case o.To != "" && format != "":
		return fmt.Errorf("--to %s cannot be combined with -o %s: give either", o.To, format)
	case format != "" && format != "yaml" && format != "json":
		return fmt.Errorf("invalid output format %q: export prints yaml or json", format)
	}
	return o.Selection.Validate()
}

// Run reads the tenants back and writes or prints their renders.
func (o *ExportOptions) Run(ctx context.Context) error {
	// A directory export may not write to is refused before anything is read.
	var owned []string
	if o.To != "" {
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
	files := make(map[string][]byte, len(tenants))
	for _, t := range tenants {
		for _, edit := range t.HandEdits {
			if edit.Setting {
				fmt.Fprintf(o.ErrOut, "warning: tenant %s: a hand-edited setting, exported as it is live: %s\n", t.Namespace, edit)
			} else {
				fmt.Fprintf(o.ErrOut, "warning: tenant %s: a hand edit, not exported (the file holds what add renders): %s\n", t.Namespace, edit)
			}
		}
		for _, what := range t.Inexpressible {
			fmt.Fprintf(o.ErrOut, "warning: tenant %s: not exported: %s\n", t.Namespace, what)
		}
		if c := t.Settings.Confinement; c != nil {
			for _, secret := range c.Source.Secrets {
				fmt.Fprintf(o.ErrOut, "warning: tenant %s: the export holds the credentials of Secret %s: encrypt it (for example with SOPS) before it goes to git\n", t.Namespace, secret.Name)
			}
		}
		objs := t.Rendered
		if objs == nil {
			// Settings that do not render: say why, as add would.
			if _, err := t.Render(t.Settings); err != nil {
				return err
			}
		}
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
