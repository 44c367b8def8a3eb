// The -print phase, and the rows every phase appends to -rows.

package main

import (
	"fmt"
	"os"
	"strings"
)

// ratio, target, met.
func (b *bench) row(cells ...string) error {
	for len(cells) < 6 {
		cells = append(cells, "")
	}
	line := strings.Join(cells, "\t")
	fmt.Fprintln(os.Stderr, "  row: "+strings.ReplaceAll(line, "\t", " | "))
	if b.cfg.rows == "" {
		return nil
	}
	f, err := os.OpenFile(b.cfg.rows, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	return err
}

func printTable(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Println("| measurement | kubectl-tenant | comparison | ratio | target | met |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") { // a note printed under the table
			continue
		}
		fmt.Println("| " + strings.ReplaceAll(line, "\t", " | ") + " |")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			fmt.Println(strings.TrimSpace(strings.TrimPrefix(line, "#")))
		}
	}
	return nil
}
