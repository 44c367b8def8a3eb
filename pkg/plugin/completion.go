package plugin

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// tenantCompletion offers tenant namespaces or tenant names from the
// cluster for shell completion (`kubectl tenant delete <TAB>`). Errors mean
// no suggestions: completion must never print to the terminal.
type tenantCompletion struct {
	configFlags *genericclioptions.ConfigFlags
	selection   *tenant.Selection
}

// namespaces completes tenant namespaces starting with what was typed.
func (c tenantCompletion) namespaces(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return c.complete(cmd.Context(), toComplete, func(ns *metav1.PartialObjectMetadata) string { return ns.Name })
}

// names completes tenant names starting with what was typed.
func (c tenantCompletion) names(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return c.complete(cmd.Context(), toComplete, func(ns *metav1.PartialObjectMetadata) string { return ns.Labels[c.selection.LabelKey] })
}

func (c tenantCompletion) complete(ctx context.Context, prefix string, pick func(*metav1.PartialObjectMetadata) string) ([]string, cobra.ShellCompDirective) {
	if ctx == nil {
		ctx = context.Background()
	}
	cl, err := newClients(c.configFlags, io.Discard, 0, 0)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	opts := metav1.ListOptions{LabelSelector: c.selection.LabelKey, Limit: tenant.DefaultChunkSize}
	err = cl.EachNamespace(ctx, opts, func(ns *metav1.PartialObjectMetadata) {
		if v := pick(ns); v != "" && strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	slices.Sort(out)
	return slices.Compact(out), cobra.ShellCompDirectiveNoFileComp
}
