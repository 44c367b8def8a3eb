// Command profiled runs a kubectl-tenant command line -n times in one
// process (the same command tree as cmd/kubectl-tenant) and writes a CPU and
// a heap profile, for `go tool pprof -top`: a single run of a 20 ms command
// is too short to sample.
//
//	go run ./bench/cmd/profiled -n 300 -cpuprofile cpu.out -- add foo t --dry-run=client -o yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/plugin"
)

func main() {
	n := flag.Int("n", 100, "runs")
	cpu := flag.String("cpuprofile", "", "CPU profile file")
	mem := flag.String("memprofile", "", "heap (alloc_space) profile file")
	show := flag.Bool("show", false, "print the last run's output")
	rate := flag.Int("rate", 0, "CPU profile rate in Hz (default 100); raise it for -n 1, and merge many such profiles with pprof")
	flag.Parse()
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		if *rate > 0 {
			runtime.SetCPUProfileRate(*rate) // pprof then warns "cannot set cpu profile rate": harmless
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *mem != "" {
		runtime.MemProfileRate = 4096
	}
	start := time.Now()
	var last []byte
	for i := 0; i < *n; i++ {
		out := &capture{}
		streams := genericiooptions.IOStreams{In: os.Stdin, Out: out, ErrOut: out}
		cmd := plugin.NewCmdTenant(streams, plugin.BuildInfo{Version: "bench"})
		cmd.SetArgs(flag.Args())
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
		last = out.b
	}
	fmt.Fprintf(os.Stderr, "%d runs, %s per run (in process, no start-up)\n", *n, time.Since(start)/time.Duration(*n))
	if *show {
		os.Stdout.Write(last)
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		if err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
}

type capture struct{ b []byte }

func (c *capture) Write(p []byte) (int, error) { c.b = append(c.b, p...); return len(p), nil }

var _ io.Writer = (*capture)(nil)
