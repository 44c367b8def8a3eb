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
		fmt.Fprintln(os.Stderr, "error: "+strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
}
