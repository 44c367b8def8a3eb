// Command benchrun measures kubectl-tenant against the demo's recipe
// (kubectl, yq) and a minimal client-go program (bench/cmd/ssabaseline).
// bench/run.sh calls it twice: -phase offline before the local cluster starts
// (start-up, binary size, offline rendering on a quiet machine) and -phase
// cluster with KUBECONFIG pointing at the cluster of bench/cmd/benchcluster.
// Each phase appends rows (tab-separated) to -rows; -print FILE prints them as
// one Markdown table.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

type config struct {
	plugin, pluginFull, kubectl, yq, baseline, timeBin string
	bulk, scale, deletes, concurrency, runs, present   int
	rows, work, floor, listprobe                       string
	// teams, teamNamespaces, teamRounds: the team tenants' add (issue 19).
	teams, teamNamespaces, teamRounds int
}

type bench struct {
	cfg        config
	kubeconfig string
	client     dynamic.Interface
	home       string // HOME for every command: kubectl's discovery cache lives here
	added      int    // tenants in the cluster
	// checkTenants is how many tenants addCheckTenants added (0: not yet).
	checkTenants int
}

func main() {
	var cfg config
	phase := flag.String("phase", "", "offline or cluster")
	only := flag.String("only", "", "comma-separated steps of the phase to run, by name (e.g. diffExportAtScale); default all")
	print := flag.String("print", "", "print the rows in this file as one Markdown table and exit")
	flag.StringVar(&cfg.plugin, "plugin", "kubectl-tenant", "kubectl-tenant binary, stripped (make build)")
	flag.StringVar(&cfg.pluginFull, "plugin-unstripped", "", "the same build without -s -w, for the size breakdown")
	flag.StringVar(&cfg.kubectl, "kubectl", "kubectl", "kubectl binary")
	flag.StringVar(&cfg.yq, "yq", "_output/bin/yq", "mikefarah yq v4 binary")
	flag.StringVar(&cfg.baseline, "ssabaseline", "", "bench/cmd/ssabaseline binary")
	flag.StringVar(&cfg.timeBin, "time", "/usr/bin/time", "GNU time, for peak RSS (-f %M)")
	flag.IntVar(&cfg.bulk, "bulk", 1000, "tenants per bulk add")
	flag.IntVar(&cfg.scale, "scale", 10000, "tenants in the cluster for the list benchmark")
	flag.IntVar(&cfg.present, "present", 0, "tenants an earlier run left in the cluster, which the list step does not add again (to repeat -only listAtScale)")
	flag.IntVar(&cfg.deletes, "deletes", 100, "tenants deleted in the delete benchmark")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "workers for the bulk adds, plugin and baseline alike")
	flag.IntVar(&cfg.teams, "teams", 300, "team tenants per add -f of the team row")
	flag.IntVar(&cfg.teamNamespaces, "team-namespaces", 3, "namespaces per team tenant")
	flag.IntVar(&cfg.teamRounds, "team-rounds", 3, "timed adds of the team row, each side; the median is reported")
	flag.IntVar(&cfg.runs, "runs", 20, "repetitions of each short measurement; the median is reported")
	flag.StringVar(&cfg.rows, "rows", "", "file the table rows are appended to")
	flag.StringVar(&cfg.work, "work", "", "scratch directory")
	flag.StringVar(&cfg.listprobe, "listprobe", "", "bench/cmd/listprobe binary: ways of reading the Kustomizations, for the list analysis")
	flag.StringVar(&cfg.floor, "floor", "", "directory of the bench/cmd/startupfloor builds (hello, cobra, cliruntime, clientgo, clientcmd)")
	flag.Parse()
	var err error
	switch {
	case *print != "":
		err = printTable(*print)
	case *phase == "offline" || *phase == "cluster":
		err = run(cfg, *phase, *only)
	default:
		err = fmt.Errorf("-phase offline|cluster or -print FILE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

func run(cfg config, phase, only string) error {
	var err error
	for _, p := range []*string{&cfg.plugin, &cfg.kubectl, &cfg.yq, &cfg.baseline, &cfg.timeBin, &cfg.listprobe} {
		if *p == "" {
			continue
		}
		if *p, err = exec.LookPath(*p); err != nil {
			return err
		}
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if cfg.work == "" {
		if cfg.work, err = os.MkdirTemp("", "kubectl-tenant-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(cfg.work)
	}
	b := &bench{cfg: cfg, home: filepath.Join(cfg.work, "home-"+phase), added: cfg.present}
	if err := os.MkdirAll(b.home, 0o755); err != nil {
		return err
	}
	var steps map[string]func() error
	var order []string
	if phase == "offline" {
		b.kubeconfig = "/nonexistent"
		order = []string{"startup", "startupFloor", "size", "renderOffline"}
		steps = map[string]func() error{"startup": b.startup, "startupFloor": b.startupFloor, "size": b.size, "renderOffline": b.renderOffline}
	} else {
		b.kubeconfig = os.Getenv("KUBECONFIG")
		rc, err := clientcmd.BuildConfigFromFlags("", b.kubeconfig)
		if err != nil {
			return fmt.Errorf("cluster phase needs KUBECONFIG: %w", err)
		}
		if b.client, err = dynamic.NewForConfig(rc); err != nil {
			return err
		}
		// teamAdd runs after the others, so that its thousands of
		// namespaces change no earlier row; fleetApply, added later, after
		// it for the same reason.
		order = []string{"addLive", "bulkAdd", "listAtScale", "deleteMany", "checkAtScale", "diffExportAtScale", "describeAtScale", "teamAdd", "fleetApply"}
		steps = map[string]func() error{"addLive": b.addLive, "bulkAdd": b.bulkAdd, "listAtScale": b.listAtScale,
			"deleteMany": b.deleteMany, "checkAtScale": b.checkAtScale, "describeAtScale": b.describeAtScale,
			"diffExportAtScale": b.diffExportAtScale, "teamAdd": b.teamAdd, "fleetApply": b.fleetApply}
	}
	if only != "" {
		order = strings.Split(only, ",")
	}
	for _, name := range order {
		step, ok := steps[name]
		if !ok {
			return fmt.Errorf("-only: no step %q in phase %s", name, phase)
		}
		if err := step(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// row appends one table row: measurement, kubectl-tenant, comparison,
