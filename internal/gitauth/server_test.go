package gitauth_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kubectl-tenant/kubectl-tenant/internal/gitauth"
)

// templatePath is the per-tenant template as a Flux Kustomization's path
// names it, relative to the repository root.
const templatePath = "kustomizations/per-tenant/kustomization.yaml"

// startTemplateServer serves this repository's kustomizations/ at the same
// path as in the repository, as the e2e tests do.
func startTemplateServer(t *testing.T) *gitauth.Server {
	return gitauth.Start(t, gitauth.Options{Dir: "../../kustomizations", Subdir: "kustomizations"})
}

// clone fetches main from url with auth into memory and returns its files.
func clone(url string, auth transport.AuthMethod) (billy.Filesystem, error) {
	files := memfs.New()
	_, err := gogit.Clone(memory.NewStorage(), files, &gogit.CloneOptions{
		URL:           url,
		Auth:          auth,
		ReferenceName: plumbing.NewBranchReferenceName("main"),
		SingleBranch:  true,
	})
	return files, err
}

func mustClone(t *testing.T, url string, auth transport.AuthMethod) billy.Filesystem {
	t.Helper()
	files, err := clone(url, auth)
	if err != nil {
		t.Fatalf("cloning %s: %v", url, err)
	}
	return files
}

func TestHTTPAcceptsOnlyTheGivenCredentials(t *testing.T) {
	srv := gitauth.Start(t, gitauth.Options{Dir: "../../kustomizations", Subdir: "kustomizations", Username: "flux", Password: "s3cret"})
	if strings.Contains(srv.HTTPURL(), "s3cret") || !strings.HasPrefix(srv.HTTPURL(), "http://127.0.0.1:") {
		t.Errorf("HTTPURL() = %q, want http://127.0.0.1:PORT/... without credentials", srv.HTTPURL())
	}
	files := mustClone(t, srv.HTTPURL(), &githttp.BasicAuth{Username: srv.Username(), Password: srv.Password()})
	if _, err := files.Stat(templatePath); err != nil {
		t.Errorf("the clone lacks %s: %v", templatePath, err)
	}
	for name, auth := range map[string]transport.AuthMethod{
		"no credentials": nil,
		"wrong password": &githttp.BasicAuth{Username: "flux", Password: "wrong"},
		"wrong username": &githttp.BasicAuth{Username: "other", Password: "s3cret"},
	} {
		if _, err := clone(srv.HTTPURL(), auth); !errors.Is(err, transport.ErrAuthenticationRequired) {
			t.Errorf("%s: clone error %v, want %v", name, err, transport.ErrAuthenticationRequired)
		}
	}
}

func TestGeneratedCredentialsDifferPerServer(t *testing.T) {
	a, b := startTemplateServer(t), startTemplateServer(t)
	if a.Password() == "" || a.Password() == b.Password() {
		t.Errorf("passwords %q and %q: want two different non-empty ones", a.Password(), b.Password())
	}
	if _, err := clone(a.HTTPURL(), &githttp.BasicAuth{Username: b.Username(), Password: b.Password()}); err == nil {
		t.Error("server a accepted server b's credentials")
	}
}

// sshAuth is key's Secret as go-git uses it, trusting knownHosts only.
func sshAuth(t *testing.T, key gitauth.ClientKey, knownHosts []byte) *gitssh.PublicKeys {
	t.Helper()
	auth, err := gitssh.NewPublicKeys("git", key.PrivateKey, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, knownHosts, 0o600); err != nil {
		t.Fatal(err)
	}
	if auth.HostKeyCallback, err = knownhosts.New(path); err != nil {
		t.Fatal(err)
	}
	return auth
}

func TestSSHAcceptsOnlyAuthorisedKeys(t *testing.T) {
	srv := startTemplateServer(t)
	if !strings.HasPrefix(srv.SSHURL(), "ssh://git@127.0.0.1:") {
		t.Errorf("SSHURL() = %q, want ssh://git@127.0.0.1:PORT/...", srv.SSHURL())
	}
	authorised, stranger := gitauth.NewClientKey(t), gitauth.NewClientKey(t)
	if err := srv.AuthorizeKey(authorised.AuthorizedKey); err != nil {
		t.Fatal(err)
	}
	files := mustClone(t, srv.SSHURL(), sshAuth(t, authorised, srv.KnownHosts()))
	if _, err := files.Stat(templatePath); err != nil {
		t.Errorf("the clone lacks %s: %v", templatePath, err)
	}
	_, err := clone(srv.SSHURL(), sshAuth(t, stranger, srv.KnownHosts()))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("unauthorised key: clone error %v, want one saying unable to authenticate", err)
	}
	if err := srv.AuthorizeKey([]byte("not a key")); err == nil {
		t.Error("AuthorizeKey accepted a line that is not a public key")
	}
}

func TestSSHHostKeyIsCheckable(t *testing.T) {
	srv, other := startTemplateServer(t), startTemplateServer(t)
	key := gitauth.NewClientKey(t)
	if err := srv.AuthorizeKey(key.AuthorizedKey); err != nil {
		t.Fatal(err)
	}
	port := srv.SSHURL()[len("ssh://git@127.0.0.1:"):]
	port = port[:strings.IndexByte(port, '/')]
	if want := "[127.0.0.1]:" + port + " ssh-ed25519 "; !strings.HasPrefix(string(srv.KnownHosts()), want) {
		t.Errorf("KnownHosts() = %q, want it to start with %q", srv.KnownHosts(), want)
	}
	for name, tc := range map[string]struct {
		knownHosts []byte
		want       string
	}{
		"another server's key for this host": {srv.KnownHostsWithKey(other.HostKey()), "key mismatch"},
		"only another host known":            {other.KnownHosts(), "key is unknown"},
	} {
		_, err := clone(srv.SSHURL(), sshAuth(t, key, tc.knownHosts))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: clone error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestCommitIsServed(t *testing.T) {
	srv := startTemplateServer(t)
	auth := &githttp.BasicAuth{Username: srv.Username(), Password: srv.Password()}
	if _, err := srv.Commit(map[string][]byte{"extra/new.yaml": []byte("a: 1\n"), templatePath: nil}, "change"); err != nil {
		t.Fatal(err)
	}
	files := mustClone(t, srv.HTTPURL(), auth)
	if _, err := files.Stat("extra/new.yaml"); err != nil {
		t.Errorf("the committed file is not served: %v", err)
	}
	if _, err := files.Stat(templatePath); err == nil {
		t.Errorf("the deleted %s is still served", templatePath)
	}
	if _, err := srv.Commit(map[string][]byte{"../outside": []byte("x")}, "escape"); err == nil {
		t.Error("Commit wrote a path outside the repository")
	}
}

func TestMainIsTheOnlyBranch(t *testing.T) {
	srv := startTemplateServer(t)
	auth := &githttp.BasicAuth{Username: srv.Username(), Password: srv.Password()}
	remote := gogit.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{srv.HTTPURL()}})
	refs, err := remote.List(&gogit.ListOptions{Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ref := range refs {
		names = append(names, ref.Name().String())
	}
	slices.Sort(names)
	if want := []string{"HEAD", "refs/heads/main"}; !slices.Equal(names, want) {
		t.Errorf("served refs %v, want %v", names, want)
	}
	// A clone that names no branch follows HEAD, which must be main.
	if _, err := srv.Commit(map[string][]byte{"moved.txt": []byte("main moved\n")}, "move main"); err != nil {
		t.Fatal(err)
	}
	files := memfs.New()
	if _, err := gogit.Clone(memory.NewStorage(), files, &gogit.CloneOptions{URL: srv.HTTPURL(), Auth: auth}); err != nil {
		t.Fatal(err)
	}
	if _, err := files.Stat("moved.txt"); err != nil {
		t.Errorf("a clone of the default branch lacks the commit on main: %v", err)
	}
}

// TestPluginDoesNotImportGitServer keeps the git server, and the git
// library it brings, out of the kubectl-tenant binary: gitauth is for tests.
func TestPluginDoesNotImportGitServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/kubectl-tenant/kubectl-tenant/cmd/kubectl-tenant").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasSuffix(pkg, "/internal/gitauth") || strings.HasPrefix(pkg, "github.com/fluxcd/pkg/gittestserver") || strings.HasPrefix(pkg, "github.com/go-git/") {
			t.Errorf("cmd/kubectl-tenant depends on %s", pkg)
		}
	}
}
