package plugin

import (
	"context"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// tenantCompletion offers tenant namespaces or tenant names from the
// cluster for shell completion (`kubectl tenant delete <TAB>`). Errors mean
// no suggestions: completion must never print to the terminal.
type tenantCompletion struct {
	configFlags *genericclioptions.ConfigFlags
	labelKey    *string
}

// namespaces completes tenant namespaces starting with what was typed.
func (c tenantCompletion) namespaces(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return c.complete(cmd.Context(), toComplete, func(name, _ string) string { return name })
}

// names completes tenant names starting with what was typed.
func (c tenantCompletion) names(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return c.complete(cmd.Context(), toComplete, func(_, tenant string) string { return tenant })
}

func (c tenantCompletion) complete(ctx context.Context, prefix string, pick func(namespace, tenant string) string) ([]string, cobra.ShellCompDirective) {
	if ctx == nil {
		ctx = context.Background()
	}
	cl, err := newClients(c.configFlags, io.Discard, 0, 0)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, err := cl.dynamic.Resource(namespaceGVR).List(ctx, metav1.ListOptions{LabelSelector: *c.labelKey})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	seen := map[string]bool{}
	for _, ns := range list.Items {
		v := pick(ns.GetName(), ns.GetLabels()[*c.labelKey])
		if v != "" && strings.HasPrefix(v, prefix) {
			seen[v] = true
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
