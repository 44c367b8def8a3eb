package e2e

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/internal/gitauth"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// credentialsRun records every output of the plugin in a test, so that the
// test can show at the end that no secret value was printed.
type credentialsRun struct {
	e       stepEnv
	outputs *[]string
}

func (r credentialsRun) run(args ...string) result {
	r.e.t.Helper()
	res := r.e.run(args...)
	*r.outputs = append(*r.outputs, strings.Join(args, " ")+"\n"+res.stdout+res.stderr)
	return res
}

func (r credentialsRun) mustRun(args ...string) result {
	r.e.t.Helper()
	res := r.run(args...)
	if res.exitCode != 0 {
		r.e.t.Fatalf("kubectl-tenant %v: exit %d\n%s%s", args, res.exitCode, res.stdout, res.stderr)
	}
	return res
}

// mustFailOneLine runs a command that must fail with want on one line.
func (r credentialsRun) mustFailOneLine(want string, args ...string) {
	r.e.t.Helper()
	res := r.run(args...)
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	last := lines[len(lines)-1]
	if res.exitCode == 0 || !strings.Contains(last, want) {
		r.e.t.Errorf("kubectl-tenant %v: exit %d, last line %q, want one containing %q", args, res.exitCode, last, want)
	}
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// secretData reads a Secret's values.
func (e stepEnv) secretData(namespace, name string) map[string]string {
	e.t.Helper()
	secret := e.mustGet(secretGVR, namespace, name)
	encoded, _, _ := unstructured.NestedStringMap(secret.Object, "data")
	out := map[string]string{}
	for k, v := range encoded {
		b, _ := base64.StdEncoding.DecodeString(v)
		out[k] = string(b)
	}
	return out
}

// deployKey is the public key a command printed for the user to register.
func deployKey(t *testing.T, stderr string) []byte {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "ssh-ed25519 ") {
			return []byte(line + "\n")
		}
	}
	t.Fatalf("no deploy key printed:\n%s", stderr)
	return nil
}

// TestPrivateGitWithThePlugin proves bootstrap's and add --confine's
// credentials against a git server that asks for them and real Flux
// controllers: a generated key, registered, reaches Ready and survives a
// re-run; a wrong key, a mismatched host key and a wrong password fail with
// Flux's reason and the fix; each confined tenant's own private source
// reaches Ready while another tenant cannot use its Secret; bad input
// writes nothing; and no secret value appears in any output.
func TestPrivateGitWithThePlugin(t *testing.T) {
	t.Parallel()
	kustomizations := filepath.Join(theSuite.root, "kustomizations")
	git := gitauth.Start(t, gitauth.Options{Dir: kustomizations, Subdir: "kustomizations"})
	other := gitauth.Start(t, gitauth.Options{Dir: kustomizations, Subdir: "kustomizations"})
	stranger := gitauth.NewClientKey(t)
	password := writeTemp(t, "password", []byte(git.Password()+"\n"))
	wrongPassword := writeTemp(t, "wrong", []byte("not-"+git.Password()+"\n"))
	shared := startEnv(t, fluxEnvOptions(false))
	var outputs []string
	// Each secret as it is and as a Secret's data holds it.
	secrets := []string{git.Password(), base64.StdEncoding.EncodeToString([]byte(git.Password())),
		strings.Split(string(stranger.PrivateKey), "\n")[1], base64.StdEncoding.EncodeToString(stranger.PrivateKey)}
	steps := []struct {
		name string
		run  func(r credentialsRun)
	}{
		{"bootstrap over SSH with a generated key reaches Ready once the key is registered, and a re-run keeps it", func(r credentialsRun) {
			secrets = append(secrets, bootstrapGeneratedKey(r, git)...)
		}},
		{"a wrong key and a mismatched host key fail with Flux's reason and the fix", func(r credentialsRun) {
			bootstrapRefused(r, git, other, stranger)
		}},
		{"bootstrap over HTTP with the right password reaches Ready, with the wrong one fails with the fix", func(r credentialsRun) {
			bootstrapPassword(r, git, password, wrongPassword)
		}},
		{"bad input gets one line and writes nothing", func(r credentialsRun) {
			badCredentials(r, git, password, stranger)
		}},
		{"confined tenants reach Ready from their own private repository, over SSH and HTTP", func(r credentialsRun) {
			secrets = append(secrets, tenantsPrivateSources(r, git, password)...)
		}},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.run(credentialsRun{e: shared.with(t), outputs: &outputs}) }) {
			t.Fatalf("stopping after %q failed", step.name)
		}
	}
	t.Run("no output holds a secret", func(t *testing.T) {
		for _, out := range outputs {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(out, secret) {
					t.Errorf("an output holds a secret value:\n%s", out)
				}
			}
		}
	})
}

// bootstrapGeneratedKey returns the generated private key's body lines,
// which no output may show.
func bootstrapGeneratedKey(r credentialsRun, git *gitauth.Server) []string {
	e := r.e
	res := r.mustRun("bootstrap", "--manifests", theSuite.manifests, "--git-url", git.SSHURL())
	if err := git.AuthorizeKey(deployKey(e.t, res.stderr)); err != nil {
		e.t.Fatal(err)
	}
	stored := e.secretData(render.FluxNamespace, render.BootstrapSecretName)
	if stored["known_hosts"] != string(git.KnownHosts()) {
		e.t.Errorf("known_hosts read from the server = %q, want %q", stored["known_hosts"], git.KnownHosts())
	}
	e.requestSourceReconcile(render.FluxNamespace, render.DefaultSourceName)
	e.waitGitRepositoryReady(render.FluxNamespace, render.DefaultSourceName)
	again := r.mustRun("bootstrap", "--manifests", theSuite.manifests, "--git-url", git.SSHURL(), "--wait")
	if !strings.Contains(again.stderr, "Kept the SSH key") || strings.Contains(again.stderr, "ssh-ed25519 ") {
		e.t.Errorf("a re-run of bootstrap did not keep the key:\n%s", again.stderr)
	}
	if now := e.secretData(render.FluxNamespace, render.BootstrapSecretName); now["identity"] != stored["identity"] {
		e.t.Error("a re-run of bootstrap changed the stored key")
	}
	lines := strings.Split(stored["identity"], "\n")
	return lines[1 : len(lines)-2]
}

func bootstrapRefused(r credentialsRun, git, other *gitauth.Server, stranger gitauth.ClientKey) {
	strangerKey := writeTemp(r.e.t, "stranger", stranger.PrivateKey)
	r.mustFailOneLine("unable to authenticate", "bootstrap", "--manifests", theSuite.manifests, "--git-url", git.SSHURL(),
		"--private-key-file", strangerKey, "--wait", "--timeout", "90s")
	r.mustFailOneLine("add its public key (identity.pub) as a read-only deploy key", "bootstrap", "--manifests", theSuite.manifests, "--git-url", git.SSHURL(),
		"--private-key-file", strangerKey, "--wait", "--timeout", "90s")
	// The right key, but known_hosts holds the other server's host key.
	if err := git.AuthorizeKey(stranger.AuthorizedKey); err != nil {
		r.e.t.Fatal(err)
	}
	mismatched := writeTemp(r.e.t, "known_hosts", git.KnownHostsWithKey(other.HostKey()))
	r.mustFailOneLine("key mismatch", "bootstrap", "--manifests", theSuite.manifests, "--git-url", git.SSHURL(),
		"--private-key-file", strangerKey, "--known-hosts", mismatched, "--wait", "--timeout", "90s")
}

func bootstrapPassword(r credentialsRun, git *gitauth.Server, password, wrong string) {
	bootstrap := []string{"bootstrap", "--manifests", theSuite.manifests, "--git-url", git.HTTPURL(), "--username", git.Username()}
	r.mustFailOneLine("refusing to send a password or token over plain "+git.HTTPURL(), append(bootstrap, "--password-file", password)...)
	res := r.mustRun(append(bootstrap, "--password-file", password, "--allow-insecure-http", "--wait")...)
	if !strings.Contains(res.stderr, "Warning: --allow-insecure-http") {
		r.e.t.Errorf("no warning about the password over plain HTTP:\n%s", res.stderr)
	}
	r.mustFailOneLine("authentication required", append(bootstrap, "--password-file", wrong, "--allow-insecure-http", "--wait", "--timeout", "90s")...)
	r.mustRun(append(bootstrap, "--password-file", password, "--allow-insecure-http", "--wait")...)
}

func badCredentials(r credentialsRun, git *gitauth.Server, password string, stranger gitauth.ClientKey) {
	before := r.e.secretData(render.FluxNamespace, render.BootstrapSecretName)
	notAKey := writeTemp(r.e.t, "not-a-key", stranger.AuthorizedKey)
	bootstrap := []string{"bootstrap", "--manifests", theSuite.manifests}
	r.mustFailOneLine("reading --private-key-file", append(bootstrap, "--git-url", git.SSHURL(), "--private-key-file", "/nonexistent/key")...)
	r.mustFailOneLine("is not an SSH private key", append(bootstrap, "--git-url", git.SSHURL(), "--private-key-file", notAKey)...)
	r.mustFailOneLine("give the password one way", append(bootstrap, "--git-url", git.HTTPURL(), "--username", "u", "--password-file", password, "--password-stdin")...)
	if after := r.e.secretData(render.FluxNamespace, render.BootstrapSecretName); after["password"] != before["password"] || after["username"] != before["username"] {
		r.e.t.Error("bad input changed the shared source's Secret")
	}
	// The grep below can see a secret: asked for explicitly, it is printed.
	strangerKey := writeTemp(r.e.t, "stranger", stranger.PrivateKey)
	knownHosts := writeTemp(r.e.t, "known_hosts", git.KnownHosts())
	shown := r.e.run("add", "x", "x", "--confine", "--git-url", git.SSHURL(), "--private-key-file", strangerKey,
		"--known-hosts", knownHosts, "--dry-run=client", "-o", "yaml", "--show-secrets")
	if !strings.Contains(shown.stdout, base64.StdEncoding.EncodeToString(stranger.PrivateKey)) {
		r.e.t.Errorf("--show-secrets did not print the key it was asked to:\n%s", shown.stdout)
	}
}

// tenantsPrivateSources returns the tenant key's body lines.
func tenantsPrivateSources(r credentialsRun, git *gitauth.Server, password string) []string {
	e := r.e
	res := r.mustRun("add", "acme", "acme", "--confine", "--git-url", git.SSHURL())
	if err := git.AuthorizeKey(deployKey(e.t, res.stderr)); err != nil {
		e.t.Fatal(err)
	}
	r.mustRun("reconcile", "acme", "--with-source", "--wait", "--timeout", "2m")
	r.mustRun("add", "globex", "globex", "--confine", "--git-url", git.HTTPURL(), "--username", git.Username(),
		"--password-file", password, "--allow-insecure-http", "--wait", "--timeout", "2m")
	for _, ns := range []string{"acme", "globex"} {
		e.waitKustomization(ns, "dummy", "True")
	}
	// globex's robot cannot read acme's key, and a source of globex's that
	// names acme's Secret finds none in its own namespace.
	_, err := e.as("system:serviceaccount:globex:globex").Resource(secretGVR).Namespace("acme").Get(context.Background(), "default-auth", metav1.GetOptions{})
	if !apierrors.IsForbidden(err) {
		e.t.Errorf("globex reading acme's Secret: %v, want forbidden", err)
	}
	// acme's key under a name only acme's namespace has.
	acmeKey := e.mustGet(secretGVR, "acme", "default-auth")
	onlyAcme := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "acme-only"}, "data": acmeKey.Object["data"]}}
	if _, err := e.client.Resource(secretGVR).Namespace("acme").Create(context.Background(), onlyAcme, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	borrowed := gitSource("borrowed", git.SSHURL())
	borrowed.Object["spec"].(map[string]any)["secretRef"] = map[string]any{"name": "acme-only"}
	if _, err := e.client.Resource(gitRepositoryGVR).Namespace("globex").Create(context.Background(), borrowed, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.eventually("globex's borrowed source fails", reconcileDeadline, func() (bool, error) {
		src, err := e.get(gitRepositoryGVR, "globex", "borrowed")
		if err != nil {
			return false, err
		}
		status, message := readyCondition(src)
		return status == "False" && strings.Contains(message, "not found"), nil
	})
	check := r.run("check", "acme", "globex")
	if strings.Contains(check.stdout, "cannot fetch") {
		e.t.Errorf("check reports a source that fetches:\n%s", check.stdout)
	}
	stored := e.secretData("acme", "default-auth")
	lines := strings.Split(stored["identity"], "\n")
	return lines[1 : len(lines)-2]
}
