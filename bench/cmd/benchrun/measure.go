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

// sample is one process run: wall time, peak RSS and CPU time.
type sample struct {
	wall time.Duration
	rss  int64 // KiB, from GNU time -f %M
	// cpu is user plus system time (GNU time %U %S): what the client
	// itself costs when its wall time is set by the server or a rate limit.
	cpu time.Duration
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
		argv = append([]string{b.cfg.timeBin, "-f", "%M %U %S", "-o", rssFile}, argv...)
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
		if s.rss, s.cpu, err = parseTimeOutput(data); err != nil {
			return s, nil, fmt.Errorf("%s: %w", rssFile, err)
		}
	}
	return s, append(out.Bytes(), errOut.Bytes()...), nil
}

// parseTimeOutput reads the last line GNU time wrote for -f "%M %U %S"
// (before it, time may say that the command exited non-zero).
func parseTimeOutput(data []byte) (rss int64, cpu time.Duration, err error) {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) != 3 {
		return 0, 0, fmt.Errorf("time -f '%%M %%U %%S' wrote %q", lines[len(lines)-1])
	}
	if rss, err = strconv.ParseInt(fields[0], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("time -f %%M: %w", err)
	}
	for _, f := range fields[1:] {
		seconds, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("time -f '%%U %%S': %w", err)
		}
		cpu += time.Duration(seconds * float64(time.Second))
	}
	return rss, cpu, nil
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

// median runs f n times and returns the median of each of wall time, RSS
// and CPU time.
func median(n int, f func(i int) (sample, error)) (sample, error) {
	var samples []sample
	for i := 0; i < n; i++ {
		s, err := f(i)
		if err != nil {
			return sample{}, err
		}
		samples = append(samples, s)
	}
	return medianOf(samples), nil
}

// medianOf returns the median of each field of samples on its own, so
// the three may come from different runs.
func medianOf(samples []sample) sample {
	return sample{
		wall: middle(samples, func(s sample) time.Duration { return s.wall }),
		rss:  middle(samples, func(s sample) int64 { return s.rss }),
		cpu:  middle(samples, func(s sample) time.Duration { return s.cpu }),
	}
}

// middle is the median of one field: the mean of the middle two of an
// even count.
func middle[T time.Duration | int64](samples []sample, field func(sample) T) T {
	values := make([]T, len(samples))
	for i, s := range samples {
		values[i] = field(s)
	}
	slices.Sort(values)
	n := len(values)
	if n%2 == 0 {
		return (values[n/2-1] + values[n/2]) / 2
	}
	return values[n/2]
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
