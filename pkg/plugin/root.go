// Package plugin holds the cobra commands of kubectl tenant. Each command has
// an options struct with its IOStreams and flags, and the Complete, Validate
// and Run steps of kubectl's own commands; the objects themselves come from
// pkg/render.
package plugin

import (
	"context"
	"errors"
	"flag"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

// FieldManager is the server-side apply field manager of every write of
// a tenant's settings.
const FieldManager = tenant.FieldManager

// BuildInfo is stamped into the binary at link time.
type BuildInfo struct {
	Version string
	Commit  string
	Date    string
}

// NewCmdTenant builds the `kubectl tenant` command tree.
func NewCmdTenant(streams genericiooptions.IOStreams, build BuildInfo) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	cmd := &cobra.Command{
		// The binary's name, so that "kubectl-tenant completion bash" and
		// kubectl's plugin completion (kubectl_complete-tenant) agree; help
		// shows the name users type.
		Use:         "kubectl-tenant",
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl tenant"},
		Short:       "Manage Flux tenants: a namespace, its RBAC and a Flux Kustomization each",
		Long: `kubectl tenant manages tenants on a cluster run with Flux CD.

A tenant is a labelled namespace holding a ConfigMap of substitution variables,
a ServiceAccount and RoleBinding (as "flux create tenant" makes them) and a Flux
Kustomization that deploys a shared per-tenant template into the namespace.`,
		// Errors are printed once by main, kubectl style, without the usage
		// text that would bury them.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	configFlags.AddFlags(cmd.PersistentFlags())
	addVerbosityFlag(cmd)
	// Every command parses the global options; its usage lists its own
	// flags and points at `kubectl tenant options` for the rest.
	cmd.SetUsageFunc(usage)

	cmd.AddCommand(
		NewCmdAdd(configFlags, streams),
		NewCmdApply(configFlags, streams),
		NewCmdList(configFlags, streams),
		NewCmdCheck(configFlags, streams),
		NewCmdDescribe(configFlags, streams),
		NewCmdDelete(configFlags, streams),
		NewCmdSuspend(configFlags, streams),
		NewCmdResume(configFlags, streams),
		NewCmdReconcile(configFlags, streams),
		NewCmdDiff(configFlags, streams),
		NewCmdExport(configFlags, streams),
		NewCmdHandover(configFlags, streams),
		NewCmdBootstrap(configFlags, streams),
		NewCmdVersion(streams, build),
		NewCmdOptions(),
	)
	return cmd
}

// command is the shape of every command's options, as in kubectl: Complete
// fills and builds from flags and arguments, Validate only checks, Run does
// the work.
type command interface {
	Complete(cmd *cobra.Command, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// runCommand runs a command's three steps in order, as cobra's RunE.
func runCommand(o command) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// exitCodeError carries the exit code a command wants, as kubectl diff
// exits 1 for differences; an empty message prints nothing.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

// withExitCode makes err exit with code; with a nil err, silently.
func withExitCode(code int, err error) error { return &exitCodeError{code: code, err: err} }

// ExitCode is the process exit code for err: 0 for none, the code a
// command asked for, else 1.
func ExitCode(err error) int {
	var coded *exitCodeError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &coded):
		return coded.code
	}
	return 1
}

// addVerbosityFlag gives -v the meaning it has in kubectl: client-go logs
// requests at 6, headers at 8 and bodies at 9, with bearer tokens redacted.
func addVerbosityFlag(cmd *cobra.Command) {
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	cmd.PersistentFlags().AddGoFlag(klogFlags.Lookup("v"))
}
