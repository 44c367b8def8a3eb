// Command kubectl-tenant is the kubectl plugin behind `kubectl tenant`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/plugin"
)

// Stamped by the linker: -X main.version=... (see Makefile, .goreleaser.yaml).
var (
	version string
	commit  string
	date    string
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := plugin.NewCmdTenant(streams, plugin.BuildInfo{Version: version, Commit: commit, Date: date})
	err := plugin.WithHint(cmd.ExecuteContext(ctx))
	stop()
	if err != nil {
		// One line, as kubectl prints errors: API errors can span lines.
		if message := strings.Join(strings.Fields(err.Error()), " "); message != "" {
			fmt.Fprintln(os.Stderr, "error: "+message)
		}
		os.Exit(plugin.ExitCode(err))
	}
}
