package plugin

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// outputFlags are kubectl's -o flags, the one way every command prints.
// Commands that write objects print them as kubectl does after a write
// ("namespace/foo serverside-applied", or -o yaml|json|name|jsonpath...),
// with dry runs marked; commands that report (list) print a table by
// default, and "wide" for more columns, with --no-headers.
type outputFlags struct {
	print *genericclioptions.PrintFlags
	// operation is the word the name printer writes after each object.
	operation string
	// table is set for commands whose default output is a table.
	table     bool
	noHeaders bool
	// showSecrets prints Secrets' values; see withholdSecrets.
	showSecrets bool
	errOut      io.Writer
}

// newObjectOutputFlags is for commands that write objects; operation is
// what they did to each ("serverside-applied", "deleted").
func newObjectOutputFlags(operation string) *outputFlags {
	return &outputFlags{print: genericclioptions.NewPrintFlags(operation), operation: operation}
}

// newTableOutputFlags is for commands that report in a table.
func newTableOutputFlags() *outputFlags {
	return &outputFlags{print: genericclioptions.NewPrintFlags(""), table: true}
}

func (f *outputFlags) addFlags(cmd *cobra.Command) {
	f.print.AddFlags(cmd)
	f.errOut = commandErr{cmd}
	if f.table {
		cmd.Flags().Lookup("output").Usage = fmt.Sprintf("Output format. One of: (%s).", strings.Join(f.allowedFormats(), ", "))
		cmd.Flags().BoolVar(&f.noHeaders, "no-headers", false, "Print the table without its header")
	}
}

// addSecretsFlag lets a command that may write a Secret print its values.
func (f *outputFlags) addSecretsFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.showSecrets, "show-secrets", false, "Print Secrets (git credentials) with -o yaml, json or a template; without it they are left out of that output, which is meant for git, and named on stderr")
}

// addReportFlags is addFlags for a command that prints one report of its
// own (a table or text, json or yaml): only -o, with usage, and a table's
// --no-headers. kubectl's --template, --allow-missing-template-keys and
// --show-managed-fields would do nothing there.
func (f *outputFlags) addReportFlags(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVarP(f.print.OutputFormat, "output", "o", *f.print.OutputFormat, usage)
	if f.table {
		cmd.Flags().BoolVar(&f.noHeaders, "no-headers", false, "Print the table without its header")
	}
}

func (f *outputFlags) allowedFormats() []string {
	formats := f.print.AllowedFormats()
	if f.table {
		formats = append([]string{"wide"}, formats...)
	}
	return formats
}

func (f *outputFlags) format() string {
	if f.print.OutputFormat == nil {
		return ""
	}
	return *f.print.OutputFormat
}

// output is what a command prints with, made by toOutput in Complete.
type output struct {
	format    string
	table     bool // "" or "wide" of a table command: see printTable
	noHeaders bool
	printer   printers.ResourcePrinter // nil for a table
}

// toOutput checks -o and builds its printer; the name printer's word is
// marked as kubectl marks dry runs.
func (f *outputFlags) toOutput(dryRun tenant.DryRunStrategy) (*output, error) {
	format := f.format()
	out := &output{format: format, noHeaders: f.noHeaders}
	if f.table && (format == "" || format == "wide") {
		out.table = true
		return out, nil
	}
	f.print.NamePrintFlags.Operation = f.operation + dryRunSuffix(dryRun)
	var printer printers.ResourcePrinter
	if format == "yaml" {
		printer = &yamlPrinter{}
		if !f.print.JSONYamlPrintFlags.ShowManagedFields {
			printer = &printers.OmitManagedFieldsPrinter{Delegate: printer}
		}
	} else {
		var err error
		if printer, err = f.print.ToPrinter(); err != nil {
			if genericclioptions.IsNoCompatiblePrinterError(err) {
				return nil, fmt.Errorf("invalid output format %q: allowed formats are %s", format, strings.Join(f.allowedFormats(), ", "))
			}
			return nil, err
		}
	}
	if !f.showSecrets && format != "" && format != "name" {
		printer = &withholdSecrets{Delegate: printer, notes: f.errOut}
	}
	out.printer = printer
	return out, nil
}

// withholdSecrets prints every object but a Secret, which it names on
// stderr: output meant for git must not carry a private key, password or
// token unless the user asked for it with --show-secrets.
type withholdSecrets struct {
	Delegate printers.ResourcePrinter
	notes    io.Writer
}

func (p *withholdSecrets) PrintObj(obj runtime.Object, w io.Writer) error {
	if u, ok := obj.(*unstructured.Unstructured); ok && u.GetKind() == "Secret" && u.GetAPIVersion() == "v1" {
		if p.notes != nil {
			fmt.Fprintf(p.notes, "Secret %s/%s holds credentials: not printed (pass --show-secrets to print it; keep it out of git, or seal it with SOPS)\n", u.GetNamespace(), u.GetName())
		}
		return nil
	}
	return p.Delegate.PrintObj(obj, w)
}

// toReportOutput is toOutput for a command that prints one report: only
// formats are accepted, and the error names the default view.
func (f *outputFlags) toReportOutput(command, defaultView string, formats []string) (*output, error) {
	if format := f.format(); !slices.Contains(formats, format) {
		return nil, fmt.Errorf("invalid output format %q: %s prints %s, json or yaml", format, command, defaultView)
	}
	return f.toOutput(tenant.DryRunNone)
}

// human reports whether the user asked for no particular format, so
// messages meant for people may go to stdout without spoiling output that
// a program reads.
func (o *output) human() bool { return o.format == "" || o.format == "wide" }

func (o *output) wide() bool { return o.format == "wide" }

// printObj prints one object.
func (o *output) printObj(w io.Writer, obj runtime.Object) error {
	return o.printer.PrintObj(obj, w)
}

// printIn prints obj as printObj does, and for people after the tenant
// namespace it is in: the name printer names no namespace, and one command
// may touch a thousand Kustomizations that all have the same name.
func (o *output) printIn(w io.Writer, namespace string, obj runtime.Object) error {
	if o.human() {
		fmt.Fprintf(w, "%s: ", namespace)
	}
	return o.printer.PrintObj(obj, w)
}

// dryRunSuffix marks a summary line as kubectl marks a dry run's objects.
func dryRunSuffix(dryRun tenant.DryRunStrategy) string {
	switch dryRun {
	case tenant.DryRunClient:
		return " (dry run)"
	case tenant.DryRunServer:
		return " (server dry run)"
	}
	return ""
}

// printAll prints each object, in order.
func (o *output) printAll(w io.Writer, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if err := o.printer.PrintObj(obj, w); err != nil {
			return err
		}
	}
	return nil
}

// printTable writes rows of cells under header through kubectl's tab
// writer; cells are made one line each, so a long message cannot break the
// table.
func (o *output) printTable(w io.Writer, header []string, rows [][]string) error {
	tw := printers.GetNewTabWriter(w)
	if !o.noHeaders {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, cell := range row {
			cells[i] = tenant.OneLine(cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// yamlPrinter prints objects as cli-runtime's YAMLPrinter does, "---"
// between them, but encodes an unstructured object's map directly: the
// YAMLPrinter goes through JSON and parses it again, which is most of what
// `add --dry-run -o yaml` spends on its own work.
type yamlPrinter struct {
	printed atomic.Int64
}

func (p *yamlPrinter) PrintObj(obj runtime.Object, w io.Writer) error {
	var content map[string]any
	if u, ok := obj.(runtime.Unstructured); ok {
		content = u.UnstructuredContent()
	} else {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		content = m
	}
	u := unstructured.Unstructured{Object: content}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		return fmt.Errorf("cannot print %q as YAML: it has no apiVersion or kind", u.GetName())
	}
	out, err := render.MarshalYAML(content)
	if err != nil {
		return err
	}
	if p.printed.Add(1) > 1 {
		out = append([]byte("---\n"), out...)
	}
	_, err = w.Write(out)
	return err
}
