// Command cobra is the start-up floor with cobra: see ../doc.go.
package main

import "github.com/spf13/cobra"

func main() {
	cmd := &cobra.Command{Use: "floor", Short: "start-up floor", Run: func(*cobra.Command, []string) {}}
	cmd.AddCommand(&cobra.Command{Use: "version", Run: func(*cobra.Command, []string) {}})
	_ = cmd.Execute()
}
