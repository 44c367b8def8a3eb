// Running commands and timing them: shared by the offline and cluster phases.

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is one process run: wall time and peak RSS.
type sample struct {
	wall time.Duration
	rss  int64 // KiB, from GET time -f %M
}

// exec runs a command under GNU time and returns its wall time (measured
// here, around the time process) and peak RSS. env is added to a HOME and
// KUBECONFIG of the bench; timed=false runs the command without time (wall
// time only, for start-up, where time's own fork/exec would be counted).
func (b *bench) exec(stdin []byte, env []string, withRSS bool, name string, args ...string) (sample, []byte, error) {
	return b.execStatus(stdin, env, withRSS, nil, name, args...)
}

// execStatus is exec for commands whose exit codes in ok are results, not
// failures: check exits 1 when a row FAILs.
func (b *bench) execStatus(stdin []byte, env []string, withRSS bool, ok []int, name string, args ...string) (sample, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	rssFile := filepath.Join(b.cfg.work, "rss")
	argv := append([]string{name}, args...)
	if withRSS {
		argv = append([]string{b.cfg.timeBin, "-f", "%M", "-o", rssFile}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), append([]string{"HOME=" + b.home, "KUBECONFIG=" + b.kubeconfig}, env...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if exitErr, isExit := err.(*exec.ExitError); isExit && slices.Contains(ok, exitErr.ExitCode()) {
		err = nil
	}
	if err != nil {
		return sample{}, nil, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(errOut.String(), 2000))
	}
	s := sample{wall: wall}
	if withRSS {
		data, err := os.ReadFile(rssFile)
		if err != nil {
			return s, nil, err
		}
		lines := strings.Fields(string(data))
		if len(lines) == 0 {
			return s, nil, fmt.Errorf("time wrote nothing to %s", rssFile)
		}
		if s.rss, err = strconv.ParseInt(lines[len(lines)-1], 10, 64); err != nil {
			return s, nil, fmt.Errorf("time -f %%M: %w", err)
		}
	}
	return s, append(out.Bytes(), errOut.Bytes()...), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (b *bench) plugin(args ...string) ([]byte, error) {
	_, out, err := b.exec(nil, nil, false, b.cfg.plugin, args...)
	return out, err
}

// median runs f n times and returns the median wall time and the median RSS.
func median(n int, f func(i int) (sample, error)) (sample, error) {
	var walls []time.Duration
	var rsss []int64
	for i := 0; i < n; i++ {
		s, err := f(i)
		if err != nil {
			return sample{}, err
		}
		walls = append(walls, s.wall)
		rsss = append(rsss, s.rss)
	}
	slices.Sort(walls)
	slices.Sort(rsss)
	if n%2 == 0 {
		return sample{wall: (walls[n/2-1] + walls[n/2]) / 2, rss: (rsss[n/2-1] + rsss[n/2]) / 2}, nil
	}
	return sample{wall: walls[n/2], rss: rsss[n/2]}, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func secs(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}
func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
func ratio(slow, fast time.Duration) string {
	return fmt.Sprintf("%.1fx", float64(slow)/float64(fast))
}
func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
