package localcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// stopGracePeriod is how long a process may take to exit after SIGTERM before it
	// (and its process group) is killed.
	stopGracePeriod = 5 * time.Second
	// Restart backoff for supervised processes. The cap is low so that the Flux
	// controllers come up quickly once their CRDs have been installed.
	minRestartBackoff = time.Second
	maxRestartBackoff = 5 * time.Second
)

// process is one child process of the cluster. Its output goes to a log file. If
// supervised, it is restarted with backoff whenever it exits, until stop is called.
type process struct {
	name       string
	path       string
	args       []string
	env        []string // full environment; nil means inherit
	logPath    string
	supervised bool
	mirror     io.Writer // optional second destination for the output (Verbose)

	logFile *os.File
	stopCh  chan struct{} // closed by stop
	done    chan struct{} // closed when the process has exited for good

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	exitErr  error // last exit status
}

// start launches the process and the goroutine that waits for it (and restarts it if
// supervised). The returned error only reports a failure to launch.
func (p *process) start() error {
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.logFile = f
	p.stopCh = make(chan struct{})
	p.done = make(chan struct{})
	cmd, err := p.launch()
	if err != nil {
		f.Close()
		close(p.done)
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	go p.wait(cmd)
	return nil
}

func (p *process) launch() (*exec.Cmd, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return nil, errors.New("stopping")
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	var out io.Writer = p.logFile
	if p.mirror != nil {
		out = io.MultiWriter(p.logFile, p.mirror)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own process group, so stop can signal everything the process spawned.
		Setpgid: true,
		// Do not outlive the test binary if it is killed without calling Stop.
		Pdeathsig: syscall.SIGKILL,
	}
	fmt.Fprintf(p.logFile, "=== %s starting: %s %s\n", time.Now().Format(time.RFC3339), p.path, strings.Join(p.args, " "))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.cmd = cmd
	return cmd, nil
}

// wait reaps the process and, if supervised, restarts it until stop is called.
func (p *process) wait(cmd *exec.Cmd) {
	defer close(p.done)
	defer p.logFile.Close()
	backoff := minRestartBackoff
	for {
		err := cmd.Wait()
		fmt.Fprintf(p.logFile, "=== %s exited: %v\n", time.Now().Format(time.RFC3339), exitDescription(err))
		p.mu.Lock()
		p.exitErr = err
		p.cmd = nil
		stopping := p.stopping
		p.mu.Unlock()
		if stopping || !p.supervised {
			return
		}
		select {
		case <-p.stopCh:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxRestartBackoff)
		next, err := p.launch()
		if err != nil {
			fmt.Fprintf(p.logFile, "=== restart failed: %v\n", err)
			return
		}
		cmd = next
	}
}

// restart starts a stopped process again with the same command line and
// log file.
func (p *process) restart() error {
	p.mu.Lock()
	p.stopping = false
	p.mu.Unlock()
	return p.start()
}

// exited is closed once the process is gone for good.
func (p *process) exited() <-chan struct{} { return p.done }

// stop terminates the process group: SIGTERM, then SIGKILL after stopGracePeriod.
func (p *process) stop() {
	if p.done == nil {
		return // never started
	}
	p.mu.Lock()
	if !p.stopping {
		p.stopping = true
		close(p.stopCh)
	}
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	select {
	case <-p.done:
		return
	case <-time.After(stopGracePeriod):
	}
	if cmd != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.done
}

// failure describes an early exit of the process with the end of its log.
func (p *process) failure() error {
	p.mu.Lock()
	err := p.exitErr
	p.mu.Unlock()
	return fmt.Errorf("%s exited: %s (log: %s)\n%s", p.name, exitDescription(err), p.logPath, tailFile(p.logPath, 30))
}

func exitDescription(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// tailFile returns the last n lines of a file, for error messages.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + string(bytes.Join(lines, []byte("\n    ")))
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1. The listeners are closed
// before returning, so another process could in theory grab a port before the child
// binds it; envtest has the same window and it is not a problem in practice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// environ returns the current environment with the given variables set (replacing
// any inherited value).
func environ(vars map[string]string) []string {
	env := make([]string, 0, len(os.Environ())+len(vars))
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, overridden := vars[name]; !overridden {
			env = append(env, kv)
		}
	}
	for name, value := range vars {
		env = append(env, name+"="+value)
	}
	return env
}
