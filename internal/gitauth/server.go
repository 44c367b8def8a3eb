// Package gitauth serves a git repository that asks for credentials, for
// tests only: over HTTP with basic auth and over SSH with the public keys a
// test authorises, both on 127.0.0.1 so a source-controller process on the
// same machine can fetch from it.
//
// It wraps fluxcd/pkg/gittestserver, the server source-controller's own tests
// run against, so the e2e tests meet the server behaviour Flux is tested
// with rather than a hand-written one.
//
// Only tests may import it: the plugin binary must not carry a git server
// (TestPluginDoesNotImportGitServer checks).
package gitauth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fluxcd/gitkit"
	"github.com/fluxcd/pkg/gittestserver"
	"golang.org/x/crypto/ssh"
)

const (
	// repoName is the path of the one served repository below both URLs.
	repoName = "repo.git"
	// branch is the branch the repository is initialised with and Commit
	// pushes to.
	branch = "main"
)

// sshListenMu serialises gittestserver's PublicKeyLookupFunc and ListenSSH:
// gittestserver keeps the lookup function in a package variable that
// ListenSSH copies into the new SSH server, so two servers started at once
// (parallel tests) would otherwise race for it and could get each other's.
var sshListenMu sync.Mutex

// Options configures Start.
type Options struct {
	// Dir is committed as the repository's first commit. Required.
	Dir string
	// Subdir places Dir's contents under this slash-separated path inside
	// the repository instead of at its root.
	Subdir string
	// Username and Password are the credentials HTTP basic auth accepts.
	// Empty ones are generated; read them back with Username and Password.
	Username, Password string
}

// Server is one repository served over HTTP with basic auth and over SSH
// with public-key auth. Its methods are safe for concurrent use.
type Server struct {
	git                *gittestserver.GitServer
	username, password string
	hostKey            ssh.PublicKey
	authorized         authorizedKeys
	sshServed          chan struct{} // closed when StartSSH returns; nil until it runs
	workDir            string        // a clone Commit writes to and pushes from
	commitMu           sync.Mutex    // serialises Commit's use of workDir
}

// Start serves a new repository holding opts.Dir and stops serving it when
// the test ends. Each server has a host key of its own, so a second server
// gives a test a host key that does not belong to the first.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Dir == "" {
		t.Fatal("gitauth.Start: Options.Dir is required")
	}
	dir := t.TempDir()
	s := &Server{
		username: orRandom(opts.Username, "tenant-bot-"),
		password: orRandom(opts.Password, ""),
		workDir:  filepath.Join(dir, "work"),
	}
	// Registered before anything starts, so whatever Start got running is
	// stopped even when a later step fails the test.
	t.Cleanup(s.stop)
	keyDir := filepath.Join(dir, "ssh")
	keyConfig := gitkit.Config{KeyDir: keyDir}
	hostKey, err := writeHostKey(keyConfig.KeyPath())
	if err != nil {
		t.Fatalf("gitauth: %v", err)
	}
	s.hostKey = hostKey
	s.git = gittestserver.NewGitServer(filepath.Join(dir, "repos")).
		Auth(s.username, s.password).
		KeyDir(keyDir)
	if err := s.initRepository(filepath.Join(dir, "fixture"), opts); err != nil {
		t.Fatalf("gitauth: %v", err)
	}
	if err := s.git.StartHTTP(); err != nil {
		t.Fatalf("gitauth: starting HTTP: %v", err)
	}
	if err := s.startSSH(); err != nil {
		t.Fatalf("gitauth: starting SSH: %v", err)
	}
	return s
}

// initRepository lays opts.Dir out as the repository's tree, commits it to
// a new bare repository whose one branch is main, and clones that for
// Commit.
func (s *Server) initRepository(fixture string, opts Options) error {
	target := filepath.Join(fixture, filepath.FromSlash(opts.Subdir))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if err := os.CopyFS(target, os.DirFS(opts.Dir)); err != nil {
		return fmt.Errorf("copying %s: %w", opts.Dir, err)
	}
	if err := s.git.InitRepo(fixture, branch, repoName); err != nil {
		return fmt.Errorf("initialising the repository: %w", err)
	}
	bareDir := filepath.Join(s.git.Root(), repoName)
	if err := keepOnlyMain(bareDir); err != nil {
		return err
	}
	return cloneForCommits(bareDir, s.workDir)
}

// startSSH listens on 127.0.0.1 with this server's key lookup and serves
// until stop.
func (s *Server) startSSH() error {
	sshListenMu.Lock()
	s.git.PublicKeyLookupFunc(s.authorized.lookup)
	err := s.git.ListenSSH()
	sshListenMu.Unlock()
	if err != nil {
		return err
	}
	s.sshServed = make(chan struct{})
	go func() {
		defer close(s.sshServed)
		// Returns when stop closes the listener; its error says only that.
		_ = s.git.StartSSH()
	}()
	return nil
}

func (s *Server) stop() {
	if s.git == nil {
		return
	}
	s.git.StopHTTP()
	_ = s.git.StopSSH()
	if s.sshServed != nil {
		<-s.sshServed
	}
}

// HTTPURL is the repository's HTTP clone URL, without credentials.
func (s *Server) HTTPURL() string { return s.git.HTTPAddress() + "/" + repoName }

// SSHURL is the repository's SSH clone URL, ssh://git@127.0.0.1:PORT/repo.git.
func (s *Server) SSHURL() string { return s.git.SSHAddress() + "/" + repoName }

// Username is the user name HTTP basic auth accepts.
func (s *Server) Username() string { return s.username }

// Password is the password HTTP basic auth accepts.
func (s *Server) Password() string { return s.password }

// AuthorizeKey lets the holder of the private half of authorizedKey (one
// OpenSSH authorized_keys line) fetch over SSH. Keys never authorised are
// refused.
func (s *Server) AuthorizeKey(authorizedKey []byte) error {
	return s.authorized.add(authorizedKey)
}

// orRandom returns value, or when it is empty prefix and a random suffix:
// generated credentials cannot match by accident what a test passes as
// wrong ones.
func orRandom(value, prefix string) string {
	if value != "" {
		return value
	}
	return prefix + rand.Text()
}

// authorizedKeys is the set of public keys the SSH server accepts.
type authorizedKeys struct {
	mu   sync.Mutex
	keys map[string]bool // keyed by "type base64", as gitkit passes them to lookup
}

func (a *authorizedKeys) add(authorizedKey []byte) error {
	key, _, _, _, err := ssh.ParseAuthorizedKey(authorizedKey)
	if err != nil {
		return fmt.Errorf("gitauth: not an authorized_keys line: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys == nil {
		a.keys = map[string]bool{}
	}
	a.keys[authorizedKeyString(key)] = true
	return nil
}

// lookup is gitkit's PublicKeyLookupFunc: an error refuses the key, which
// ends the SSH handshake with "unable to authenticate" on the client.
func (a *authorizedKeys) lookup(content string) (*gitkit.PublicKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.keys[content] {
		return nil, errors.New("gitauth: public key not authorised")
	}
	return &gitkit.PublicKey{Id: "authorised", Content: content}, nil
}

// authorizedKeyString is key in the form gitkit hands to the lookup: the
// authorized_keys line without comment or newline.
func authorizedKeyString(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}
