package plugin

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The global options are kubectl's connection flags and -v, persistent on
// the root so that every command parses them. As kubectl does, usage lists
// each command's own flags and leaves them to `kubectl tenant options`,
// where they would otherwise fill every command's help before its own.

// NewCmdOptions builds `kubectl tenant options`, which prints the global
// options as `kubectl options` prints kubectl's.
func NewCmdOptions() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "options",
		Short:             "Print the list of flags inherited by all commands",
		Example:           "  # Print flags inherited by all commands\n  kubectl tenant options",
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return printGlobalOptions(cmd.OutOrStdout(), cmd)
		},
	}
	// Its help is the list, as kubectl's is.
	cmd.SetHelpFunc(func(cmd *cobra.Command, _ []string) { _ = printGlobalOptions(cmd.OutOrStdout(), cmd) })
	return cmd
}

// printGlobalOptions writes the root's persistent flags.
func printGlobalOptions(w io.Writer, cmd *cobra.Command) error {
	_, err := fmt.Fprintf(w, "The following options can be passed to any command:\n\n%s", cmd.Root().PersistentFlags().FlagUsages())
	return err
}

// usage is every command's usage (and so its help's second half): cobra's
// own, with the global options replaced by a pointer to the options
// command. It is Go rather than a usage template, which cobra would parse
// on every --help.
func usage(c *cobra.Command) error {
	w := c.OutOrStderr()
	global := c.Root().PersistentFlags()
	var b strings.Builder
	b.WriteString("Usage:")
	if c.Runnable() {
		fmt.Fprintf(&b, "\n  %s", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\n  %s [command]", c.CommandPath())
	}
	if len(c.Aliases) > 0 {
		fmt.Fprintf(&b, "\n\nAliases:\n  %s", c.NameAndAliases())
	}
	if c.HasExample() {
		fmt.Fprintf(&b, "\n\nExamples:\n%s", c.Example)
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("\n\nAvailable Commands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(&b, "\n  %-*s %s", sub.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	if own := withoutFlags(c.LocalFlags(), global); own.HasAvailableFlags() {
		fmt.Fprintf(&b, "\n\nFlags:\n%s", strings.TrimRight(own.FlagUsages(), " \t\n"))
	}
	if inherited := withoutFlags(c.InheritedFlags(), global); inherited.HasAvailableFlags() {
		fmt.Fprintf(&b, "\n\nGlobal Flags:\n%s", strings.TrimRight(inherited.FlagUsages(), " \t\n"))
	}
	var tips []string
	if c.HasAvailableSubCommands() {
		tips = append(tips, fmt.Sprintf("Use \"%s [command] --help\" for more information about a command.", c.CommandPath()))
	}
	if global.HasAvailableFlags() {
		tips = append(tips, fmt.Sprintf("Use \"%s options\" for a list of global command-line options (applies to all commands).", c.Root().CommandPath()))
	}
	if len(tips) > 0 {
		fmt.Fprintf(&b, "\n\n%s", strings.Join(tips, "\n"))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// withoutFlags is flags less those also in drop.
func withoutFlags(flags, drop *pflag.FlagSet) *pflag.FlagSet {
	out := pflag.NewFlagSet("", pflag.ContinueOnError)
	out.SortFlags = flags.SortFlags
	flags.VisitAll(func(f *pflag.Flag) {
		if drop.Lookup(f.Name) == nil {
			out.AddFlag(f)
		}
	})
	return out
}
