package plugin

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// DryRunStrategy says whether and where a command only pretends to write.
// It mirrors kubectl's cmdutil.DryRunStrategy without importing
// k8s.io/kubectl/pkg/cmd/util, which would add its OpenAPI and validation
// packages to the binary and to start-up.
type DryRunStrategy int

const (
	// DryRunNone writes to the cluster.
	DryRunNone DryRunStrategy = iota
	// DryRunClient prints what would be written and contacts no cluster.
	DryRunClient
	// DryRunServer sends every write with dryRun=All.
	DryRunServer
)

func (s DryRunStrategy) String() string {
	switch s {
	case DryRunClient:
		return "client"
	case DryRunServer:
		return "server"
	default:
		return "none"
	}
}

// dryRunFlag is a pflag.Value so that a bad value is refused while flags are
// parsed, with the allowed values in the message.
type dryRunFlag struct{ strategy *DryRunStrategy }

func (f dryRunFlag) String() string { return f.strategy.String() }
func (f dryRunFlag) Type() string   { return "string" }
func (f dryRunFlag) Set(s string) error {
	switch s {
	case "none", "false":
		*f.strategy = DryRunNone
	case "client", "true":
		*f.strategy = DryRunClient
	case "server":
		*f.strategy = DryRunServer
	default:
		return fmt.Errorf("invalid dry-run value %q: must be none, client or server", s)
	}
	return nil
}

func addDryRunFlag(cmd *cobra.Command, strategy *DryRunStrategy) {
	cmd.Flags().Var(dryRunFlag{strategy}, "dry-run",
		`Must be "none", "server", or "client". If client strategy, only print the object that would be sent, without sending it. If server strategy, submit server-side request without persisting the resource.`)
	// A bare --dry-run means client, as it did in kubectl before values.
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}

// printFlags are kubectl's -o flags, with the operation word that the name
// printer writes after each object, marked as kubectl marks dry runs.
type printFlags struct {
	*genericclioptions.PrintFlags
}

func newPrintFlags(operation string) *printFlags {
	return &printFlags{PrintFlags: genericclioptions.NewPrintFlags(operation)}
}

// toPrinter must be called once: Complete formats the operation word.
func (p *printFlags) toPrinter(dryRun DryRunStrategy) (printers.ResourcePrinter, error) {
	template := "%s"
	switch dryRun {
	case DryRunClient:
		template = "%s (dry run)"
	case DryRunServer:
		template = "%s (server dry run)"
	}
	if err := p.Complete(template); err != nil {
		return nil, err
	}
	if p.OutputFormat != nil && *p.OutputFormat == "yaml" {
		var printer printers.ResourcePrinter = &yamlPrinter{}
		if !p.JSONYamlPrintFlags.ShowManagedFields {
			printer = &printers.OmitManagedFieldsPrinter{Delegate: printer}
		}
		return printer, nil
	}
	return p.ToPrinter()
}

// yamlPrinter prints objects as cli-runtime's YAMLPrinter does, "---"
// between them, but encodes an unstructured object's map directly: the
// YAMLPrinter goes through JSON and parses it again, which is most of what
// `add --dry-run -o yaml` spends on its own work.
type yamlPrinter struct {
	printed atomic.Int64
}

func (p *yamlPrinter) PrintObj(obj runtime.Object, w io.Writer) error {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		u = &unstructured.Unstructured{Object: m}
	}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		return fmt.Errorf("cannot print %q as YAML: it has no apiVersion or kind", u.GetName())
	}
	out, err := render.MarshalYAML(u.Object)
	if err != nil {
		return err
	}
	if p.printed.Add(1) > 1 {
		out = append([]byte("---\n"), out...)
	}
	_, err = w.Write(out)
	return err
}

// humanOutput reports whether no -o was given, so messages meant for people
// may go to stdout without spoiling machine-readable output.
func (p *printFlags) humanOutput() bool {
	return p.OutputFormat == nil || *p.OutputFormat == ""
}
