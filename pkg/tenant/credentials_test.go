package tenant

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestResolveKeepsTheStoredKey: a re-run keeps the deploy key registered
// once, and --rotate-key makes a new one.
func TestResolveKeepsTheStoredKey(t *testing.T) {
	knownHosts := writeFile(t, "known_hosts", "[git.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHBapO9/r0WhVKyegbc0kj6jNxuq/+wkIeYSgfdtIAIe\n")
	f := &CredentialFlags{CredentialRefs: render.CredentialRefs{KnownHostsFile: knownHosts}}
	first, err := f.Resolve(context.Background(), "ssh://git@git.example:2222/acme/app", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.GeneratedKey, "ssh-ed25519 ") || first.KeptKey {
		t.Fatalf("first run: generated %q, kept %v; want a new ed25519 key", first.GeneratedKey, first.KeptKey)
	}
	if _, err := ssh.ParsePrivateKey(first.Credentials.Identity); err != nil {
		t.Fatalf("the generated identity does not parse: %v", err)
	}
	stored := first.Credentials.SecretData()
	again, err := f.Resolve(context.Background(), "ssh://git@git.example:2222/acme/app", nil, stored)
	if err != nil {
		t.Fatal(err)
	}
	if !again.KeptKey || again.GeneratedKey != "" || !bytes.Equal(again.Credentials.Identity, first.Credentials.Identity) {
		t.Errorf("a re-run did not keep the stored key")
	}
	f.RotateKey = true
	rotated, err := f.Resolve(context.Background(), "ssh://git@git.example:2222/acme/app", nil, stored)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.GeneratedKey == "" || bytes.Equal(rotated.Credentials.Identity, first.Credentials.Identity) {
		t.Errorf("--rotate-key kept the old key")
	}
}

// TestResolveRefusesBadInputWithoutTheSecret: each refusal is one line and
// none holds the secret it read.
func TestResolveRefusesBadInputWithoutTheSecret(t *testing.T) {
	const password = "hunter2-do-not-print"
	pw := writeFile(t, "pw", password+"\n")
	notAKey := writeFile(t, "id", "-----BEGIN OPENSSH PRIVATE KEY-----\n"+password+"\n-----END OPENSSH PRIVATE KEY-----\n")
	for name, tc := range map[string]struct {
		flags CredentialFlags
		url   string
		want  string
	}{
		"unreadable key file":  {CredentialFlags{CredentialRefs: render.CredentialRefs{PrivateKeyFile: "/nonexistent/id"}}, "ssh://git@h/r", "reading --private-key-file"},
		"not a private key":    {CredentialFlags{CredentialRefs: render.CredentialRefs{PrivateKeyFile: notAKey, KnownHostsFile: notAKey}}, "ssh://git@h/r", "is not an SSH private key"},
		"password over http":   {CredentialFlags{CredentialRefs: render.CredentialRefs{Username: "u", PasswordFile: pw}}, "http://h/r", "refusing to send a password or token over plain http://h/r"},
		"password needs user":  {CredentialFlags{CredentialRefs: render.CredentialRefs{PasswordFile: pw}}, "https://h/r", "a password needs --username"},
		"ssh flags over https": {CredentialFlags{CredentialRefs: render.CredentialRefs{PrivateKeyFile: notAKey}}, "https://h/r", "--private-key-file and --known-hosts need an ssh:// URL"},
		"password over ssh":    {CredentialFlags{CredentialRefs: render.CredentialRefs{Username: "u", PasswordFile: pw}}, "ssh://git@h/r", "needs an https:// URL, not ssh://"},
		"empty env":            {CredentialFlags{CredentialRefs: render.CredentialRefs{Username: "u", PasswordEnv: "KUBECTL_TENANT_TEST_UNSET"}}, "https://h/r", "environment variable KUBECTL_TENANT_TEST_UNSET is not set"},
	} {
		_, err := tc.flags.Resolve(context.Background(), tc.url, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), password) {
			t.Errorf("%s: %v, want one line with %q and no secret", name, err, tc.want)
		}
	}
	both := CredentialFlags{CredentialRefs: render.CredentialRefs{Username: "u", PasswordFile: pw}, PasswordStdin: true}
	if err := both.Validate(); err == nil || !strings.Contains(err.Error(), "give the password one way") {
		t.Errorf("a password file and stdin: %v", err)
	}
	withRef := CredentialFlags{CredentialRefs: render.CredentialRefs{SecretRef: "creds", Username: "u"}}
	if err := withRef.Validate(); err == nil || !strings.Contains(err.Error(), "give no other credential flag") {
		t.Errorf("--secret-ref with --username: %v", err)
	}
}

func TestResolveReadsThePasswordFromStdinAndAllowsInsecureHTTPOnRequest(t *testing.T) {
	f := &CredentialFlags{CredentialRefs: render.CredentialRefs{Username: "git", AllowInsecureHTTP: true}, PasswordStdin: true}
	r, err := f.Resolve(context.Background(), "http://git.internal/r", strings.NewReader("s3cret\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	data := r.Credentials.SecretData()
	if string(data[render.SecretUsernameKey]) != "git" || string(data[render.SecretPasswordKey]) != "s3cret" {
		t.Errorf("secret data = %q", data)
	}
}

// TestScanHostKey reads the host key of a real SSH server on loopback.
func TestScanHostKey(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	config := &ssh.ServerConfig{NoClientAuth: true}
	config.AddHostKey(signer)
	go func() {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _, _, _ = ssh.NewServerConn(conn, config)
	}()
	u, _ := url.Parse("ssh://git@" + listener.Addr().String() + "/repo")
	line, err := ScanHostKey(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	want := "[127.0.0.1]:" + u.Port() + " " + string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
	if string(line) != want {
		t.Errorf("known_hosts = %q, want %q", line, want)
	}
}

func TestSourceFix(t *testing.T) {
	for message, want := range map[string]string{
		"failed to checkout and determine revision: unable to clone 'ssh://git@127.0.0.1:1/r': ssh: handshake failed: knownhosts: key mismatch": "host key is not the one in known_hosts of Secret ns/s",
		"unable to clone: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain":  "does not accept the SSH key in Secret ns/s",
		"unable to clone 'http://127.0.0.1:1/r': authentication required":                                                                       "refused the credentials in Secret ns/s",
		"unable to clone: x509: certificate signed by unknown authority":                                                                        "--ca-file",
		"stored artifact for revision 'main@sha1:abc'":                                                                                          "",
	} {
		if got := SourceFix(message, "ns/s"); (want == "" && got != "") || !strings.Contains(got, want) {
			t.Errorf("SourceFix(%q) = %q, want it to contain %q", message, got, want)
		}
	}
}

func TestDiffHidesSecretValues(t *testing.T) {
	d := ObjectDiff{Name: "v1.Secret.acme.default-auth",
		Live:    map[string]any{"kind": "Secret", "data": map[string]any{"identity": "b2xk", "known_hosts": "aG9zdA=="}},
		Desired: map[string]any{"kind": "Secret", "data": map[string]any{"identity": "bmV3", "known_hosts": "aG9zdA==", "password": "cHc="}}}
	hideSecretValues(&d)
	want := ObjectDiff{Name: d.Name,
		Live:    map[string]any{"kind": "Secret", "data": map[string]any{"identity": "(hidden: the live value)", "known_hosts": "(hidden)"}},
		Desired: map[string]any{"kind": "Secret", "data": map[string]any{"identity": "(hidden: a new value)", "known_hosts": "(hidden)", "password": "(hidden: a new value)"}}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("hidden = %+v\nwant %+v", d, want)
	}
}
