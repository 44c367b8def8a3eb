package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// gitRepoName is the name of the single repository served by the git server.
const gitRepoName = "repo.git"

// gitServer serves one bare repository over smart HTTP on loopback using
// `git http-backend` as a CGI program. A working clone next to it is used to add
// commits, which are pushed to the bare repository through the file system.
type gitServer struct {
	url      string
	workDir  string
	bareDir  string
	server   *http.Server
	served   chan struct{} // closed when Serve returns
	commitMu sync.Mutex    // serializes commit
}

// startGitServer commits the contents of srcDir (placed under subdir inside the
// repository, if set) to a new repository below dir and serves it.
func startGitServer(dir, srcDir, subdir string) (*gitServer, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("git server: the git command is not installed")
	}
	execPath, err := gitOutput("", "--exec-path")
	if err != nil {
		return nil, fmt.Errorf("git server: %w", err)
	}
	backend := filepath.Join(execPath, "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return nil, fmt.Errorf("git server: git http-backend not found at %s (install the full git package): %w", backend, err)
	}
	if info, err := os.Stat(srcDir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("git server: GitRepoDir %q is not a directory", srcDir)
	}

	g := &gitServer{
		workDir: filepath.Join(dir, "work"),
		bareDir: filepath.Join(dir, "served", gitRepoName),
		served:  make(chan struct{}),
	}
	if err := copyTree(srcDir, filepath.Join(g.workDir, filepath.FromSlash(subdir))); err != nil {
		return nil, fmt.Errorf("git server: copying %s: %w", srcDir, err)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", g.workDir},
		{"-C", g.workDir, "add", "-A"},
		{"-C", g.workDir, "commit", "-q", "--allow-empty", "-m", "Initial commit"},
		{"clone", "-q", "--bare", g.workDir, g.bareDir},
		{"-C", g.workDir, "remote", "add", "origin", g.bareDir},
	} {
		if _, err := gitOutput("", args...); err != nil {
			return nil, fmt.Errorf("git server: %w", err)
		}
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("git server: %w", err)
	}
	g.url = fmt.Sprintf("http://%s/%s", listener.Addr(), gitRepoName)
	g.server = &http.Server{
		Handler: &cgi.Handler{
			Path: backend,
			Env: []string{
				"GIT_PROJECT_ROOT=" + filepath.Dir(g.bareDir),
				"GIT_HTTP_EXPORT_ALL=1",
				"GIT_CONFIG_NOSYSTEM=1",
				"GIT_CONFIG_GLOBAL=/dev/null",
			},
			Stderr: io.Discard,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(g.served)
		_ = g.server.Serve(listener)
	}()
	return g, nil
}

// commit writes files (slash-separated paths relative to the repository root; nil
// content deletes the file), commits and pushes to main. It returns the new revision.
func (g *gitServer) commit(files map[string][]byte, message string) (string, error) {
	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	for name, content := range files {
		path := filepath.Join(g.workDir, filepath.FromSlash(name))
		if !strings.HasPrefix(path, g.workDir+string(filepath.Separator)) {
			return "", fmt.Errorf("git commit: path %q is outside the repository", name)
		}
		if content == nil {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{
		{"add", "-A"},
		{"commit", "-q", "--allow-empty", "-m", message},
		{"push", "-q", "origin", "HEAD:main"},
	} {
		if _, err := gitOutput(g.workDir, args...); err != nil {
			return "", fmt.Errorf("git commit: %w", err)
		}
	}
	return gitOutput(g.workDir, "rev-parse", "HEAD")
}

func (g *gitServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), stopGracePeriod)
	defer cancel()
	if err := g.server.Shutdown(ctx); err != nil {
		g.server.Close()
	}
	<-g.served
}

// gitOutput runs git isolated from the user's and system's configuration (which could,
// for example, require commit signing) and returns its trimmed output.
func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{
		"-c", "user.name=kubectl-tenant test",
		"-c", "user.email=test@kubectl-tenant.invalid",
		"-c", "commit.gpgsign=false",
	}, args...)...)
	cmd.Dir = dir
	cmd.Env = environ(map[string]string{
		"GIT_CONFIG_NOSYSTEM": "1",
		"GIT_CONFIG_GLOBAL":   "/dev/null",
		"GIT_TERMINAL_PROMPT": "0",
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// copyTree copies regular files and directories from src into dst, skipping .git
// directories and following no symlinks (they are recreated as symlinks).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && d.Name() == ".git":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		default:
			return nil // sockets, devices: not meaningful in a repository
		}
	})
}
