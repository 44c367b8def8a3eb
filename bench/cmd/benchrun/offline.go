// -phase offline: start-up, binary size and offline rendering, before any
// cluster starts.

package main

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// startup: --help and version, wall time (median of runs, without GNU time
// around the process) and peak RSS (median of as many runs under time).
func (b *bench) startup() error {
	cases := []struct {
		name    string
		plugin  []string
		kubectl []string
	}{
		{"--help", []string{"--help"}, []string{"--help"}},
		{"version", []string{"version"}, []string{"version", "--client"}},
	}
	for _, c := range cases {
		measure := func(name string, args []string) (sample, error) {
			wall, err := median(b.cfg.runs, func(int) (sample, error) {
				s, _, err := b.exec(nil, nil, false, name, args...)
				return s, err
			})
			if err != nil {
				return wall, err
			}
			rss, err := median(b.cfg.runs, func(int) (sample, error) {
				s, _, err := b.exec(nil, nil, true, name, args...)
				return s, err
			})
			return sample{wall: wall.wall, rss: rss.rss}, err
		}
		p, err := measure(b.cfg.plugin, c.plugin)
		if err != nil {
			return err
		}
		k, err := measure(b.cfg.kubectl, c.kubectl)
		if err != nil {
			return err
		}
		if err := b.row(fmt.Sprintf("start-up: `kubectl-tenant %s` (median of %d)", c.name, b.cfg.runs),
			ms(p.wall)+", "+mib(p.rss),
			fmt.Sprintf("`kubectl %s`: %s, %s", strings.Join(c.kubectl, " "), ms(k.wall), mib(k.rss)),
			ratio(k.wall, p.wall)+" faster", "< 15 ms", met(p.wall < 15*time.Millisecond)); err != nil {
			return err
		}
	}
	return nil
}

// startupFloor measures the build variants of bench/cmd/startupfloor: what
// each layer of the plugin's stack costs in start-up time and size.
func (b *bench) startupFloor() error {
	if b.cfg.floor == "" {
		return nil
	}
	variants := []struct{ name, what string }{
		{"hello", "Go runtime only"},
		{"cobra", "+ cobra"},
		{"cliruntime", "+ cli-runtime genericclioptions (kubectl flags)"},
		{"clientgo", "+ client-go dynamic + discovery (the plugin's stack)"},
		{"clientcmd", "cobra + client-go clientcmd flags + dynamic, no cli-runtime/discovery"},
		{"clientcmddisco", "clientcmd + client-go discovery"},
		{"clientcmdrender", "clientcmd + the plugin's pkg/render"},
	}
	var cells []string
	for _, v := range variants {
		bin := filepath.Join(b.cfg.floor, v.name)
		st, err := os.Stat(bin)
		if err != nil {
			return err
		}
		s, err := median(b.cfg.runs, func(int) (sample, error) {
			s, _, err := b.exec(nil, nil, false, bin, "--help")
			return s, err
		})
		if err != nil {
			return err
		}
		cells = append(cells, fmt.Sprintf("%s (%s): %s, %.1f MB", v.name, v.what, ms(s.wall), float64(st.Size())/1e6))
	}
	return b.row("start-up floor: build variants of bench/cmd/startupfloor, `--help`, stripped", "", strings.Join(cells, "; "), "", "", "info")
}

// size: the stripped binary, and what its biggest dependencies cost, from
// the symbol sizes of the same build without -s -w.
func (b *bench) size() error {
	st, err := os.Stat(b.cfg.plugin)
	if err != nil {
		return err
	}
	top := ""
	if b.cfg.pluginFull != "" {
		groups, total, err := symbolSizes(b.cfg.pluginFull)
		if err != nil {
			return err
		}
		var lines []string
		lines = append(lines, "#", "# Binary size by package path (ELF symbol sizes of the unstripped build, as go tool nm -size shows them; symbols only, no BSS, so the sum is below the file size):", "#",
			"# | package path prefix | symbol bytes | share |", "# |---|---|---|")
		for i, g := range groups {
			if i < 3 {
				top += fmt.Sprintf("%s %.1f MB; ", g.name, float64(g.size)/1e6)
			}
			if i < 15 {
				lines = append(lines, fmt.Sprintf("# | %s | %.2f MB | %.0f%% |", g.name, float64(g.size)/1e6, 100*float64(g.size)/float64(total)))
			}
		}
		lines = append(lines, fmt.Sprintf("# | (all symbols) | %.2f MB | 100%% |", float64(total)/1e6))
		f, err := os.OpenFile(b.cfg.rows, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		fmt.Fprintln(f, strings.Join(lines, "\n"))
		f.Close()
	}
	return b.row("binary size, stripped (`make build`)", fmt.Sprintf("%.1f MB", float64(st.Size())/1e6),
		"largest: "+strings.TrimSuffix(top, "; "), "", "<= 55 MB", met(st.Size() <= 55e6))
}

type group struct {
	name string
	size int64
}

// symbolSizes groups the symbol sizes of an unstripped binary (the ELF
// symbol table, what `go tool nm -size` prints) by package path prefix: the
// module for well-known hosts (k8s.io/api, github.com/fluxcd/pkg/..., ...),
// "std" for the standard library. BSS symbols take no room in the file and
// are skipped.
func symbolSizes(bin string) ([]group, int64, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, 0, err
	}
	sizes := map[string]int64{}
	var total int64
	for _, sym := range syms {
		if sym.Size == 0 || int(sym.Section) >= len(f.Sections) || f.Sections[sym.Section].Type == elf.SHT_NOBITS {
			continue
		}
		total += int64(sym.Size)
		sizes[packageGroup(sym.Name)] += int64(sym.Size)
	}
	var groups []group
	for k, v := range sizes {
		groups = append(groups, group{k, v})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].size > groups[j].size })
	return groups, total, nil
}

func packageGroup(sym string) string {
	if strings.HasPrefix(sym, "go:func.") || strings.HasPrefix(sym, "runtime.") && !strings.Contains(sym, "/") {
		return "runtime and its metadata (go:func.*)"
	}
	for _, p := range []string{"go:itab.", "type:.eq.", "type:.namedata.", "type:", "go:", "*"} {
		sym = strings.TrimPrefix(sym, p)
	}
	sym = strings.TrimLeft(sym, "*[]()")
	if i := strings.IndexAny(sym, "([,; "); i >= 0 {
		sym = sym[:i]
	}
	pkg := sym
	slash := strings.LastIndex(pkg, "/")
	if dot := strings.Index(pkg[slash+1:], "."); dot >= 0 {
		pkg = pkg[:slash+1+dot]
	}
	parts := strings.Split(pkg, "/")
	if !strings.Contains(parts[0], ".") {
		if pkg == "" || strings.HasPrefix(sym, ".") || strings.HasPrefix(sym, "_") {
			return "(runtime data, unnamed)"
		}
		return "std"
	}
	keep := 2
	switch parts[0] {
	case "github.com", "golang.org", "go.yaml.in":
		keep = 3
	case "k8s.io", "sigs.k8s.io":
		keep = 2
		if len(parts) > 2 && parts[1] == "client-go" {
			keep = 3 // k8s.io/client-go/kubernetes, ...
		}
	}
	if parts[0] == "github.com" && parts[1] == "fluxcd" {
		keep = 4 // github.com/fluxcd/pkg/kustomize, github.com/fluxcd/flux2/v2/pkg
	}
	if len(parts) < keep {
		keep = len(parts)
	}
	return strings.Join(parts[:keep], "/")
}

// renderOffline: add --dry-run=client -o yaml against the recipe's offline
// steps that can run here. The two flux steps cannot (the flux CLI is not
// buildable offline) and are fed as static files; kfilt is not on the Go
// module proxy, so its two filters are done by yq select, the same work.
func (b *bench) renderOffline() error {
	// Wall time without GNU time around the processes (its own fork and
	// exec would be counted five times for the recipe, once for the plugin);
	// peak RSS from as many runs under time.
	pluginArgs := []string{"add", "foo", "sometenant", "--dry-run=client", "-o", "yaml"}
	p, err := median(b.cfg.runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, false, b.cfg.plugin, pluginArgs...)
		return s, err
	})
	if err != nil {
		return err
	}
	pr, err := median(b.cfg.runs, func(int) (sample, error) {
		s, _, err := b.exec(nil, nil, true, b.cfg.plugin, pluginArgs...)
		return s, err
	})
	if err != nil {
		return err
	}
	p.rss = pr.rss
	tenant := filepath.Join(b.cfg.work, "flux-tenant.yaml")
	ks := filepath.Join(b.cfg.work, "flux-ks.yaml")
	if err := os.WriteFile(tenant, fmt.Appendf(nil, tenantStatic, "foo"), 0o644); err != nil {
		return err
	}
	steps := [][]string{
		{b.cfg.kubectl, "create", "namespace", "foo", "--dry-run=client", "-o", "yaml"},
		{b.cfg.kubectl, "create", "configmap", "-n", "foo", "--from-literal=PER_TENANT_SUBST=This tenant name is \"sometenant\"", "tenant-vars", "--dry-run=client", "-o", "yaml"},
		{b.cfg.yq, `select(.kind == "ServiceAccount")`, tenant}, // kfilt --kind=ServiceAccount
		{b.cfg.yq, `select(.kind == "RoleBinding")`, tenant},    // kfilt --kind=RoleBinding
		{b.cfg.yq, "-i", postBuild, ks},
	}
	perStep := make([][]time.Duration, len(steps))
	recipe := func(withRSS bool) func(int) (sample, error) {
		return func(int) (sample, error) {
			var total sample
			if err := os.WriteFile(ks, fmt.Appendf(nil, ksStatic, "foo"), 0o644); err != nil {
				return total, err
			}
			for i, step := range steps {
				s, _, err := b.exec(nil, nil, withRSS, step[0], step[1:]...)
				if err != nil {
					return total, err
				}
				if !withRSS {
					perStep[i] = append(perStep[i], s.wall)
				}
				total.wall += s.wall
				total.rss = max(total.rss, s.rss)
			}
			return total, nil
		}
	}
	k, err := median(b.cfg.runs, recipe(false))
	if err != nil {
		return err
	}
	kr, err := median(b.cfg.runs, recipe(true))
	k.rss = kr.rss
	if err != nil {
		return err
	}
	var med []string
	for _, d := range perStep {
		slices.Sort(d)
		med = append(med, ms(d[len(d)/2]))
	}
	r := float64(k.wall) / float64(p.wall)
	return b.row(fmt.Sprintf("render one tenant offline: `add foo sometenant --dry-run=client -o yaml` (median of %d)", b.cfg.runs),
		ms(p.wall)+", "+mib(p.rss),
		fmt.Sprintf("recipe offline steps: %s total, max %s (kubectl create ns %s + create cm %s; yq select SA %s + RB %s [kfilt not on the proxy]; yq -i postBuild %s); `flux create tenant --export` and `flux create ks --export`: **not measured** (flux CLI not buildable here), so the recipe's real cost is higher",
			ms(k.wall), mib(k.rss), med[0], med[1], med[2], med[3], med[4]),
		fmt.Sprintf("%.1fx faster", r), ">= 20x", met(r >= 20))
}
