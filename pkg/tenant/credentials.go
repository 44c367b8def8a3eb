package tenant

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// CredentialFlags are the flags that give a git source its credentials,
// named as flux bootstrap git and flux create source git name them. They
// hold references (file paths, environment variable names, a Secret
// name), never a secret value, so that none lands in shell history, in a
// process list or in a tenant file.
type CredentialFlags struct {
	// CredentialRefs are the references a fleet file may also hold.
	render.CredentialRefs
	// PasswordStdin reads the password (or token) from stdin, as docker
	// login --password-stdin does; never in a file of tenants.
	PasswordStdin bool `json:"-"`
	RotateKey     bool `json:"-"`
}

// SSH key algorithms a generated key may use; ed25519 is the default.
func sshKeyAlgorithms() []string { return []string{"ed25519", "ecdsa", "rsa"} }

// AddFlags binds the credential flags; what is the shared source's (for
// bootstrap) or a tenant's own (for add --confine --git-url) is said by
// whose says.
func (f *CredentialFlags) AddFlags(fs *pflag.FlagSet, whose string) {
	fs.StringVar(&f.SecretRef, "secret-ref", "", "An existing Secret, in the source's namespace, that "+whose+" authenticates with (SSH, basic auth, bearer token or GitHub App keys, as Flux reads them)")
	fs.StringVar(&f.PrivateKeyFile, "private-key-file", "", "SSH private key file for "+whose+" (ssh:// URLs); without it a key is generated, or the one already stored is kept")
	fs.StringVar(&f.SSHKeyAlgorithm, "ssh-key-algorithm", "ed25519", "Algorithm of a generated SSH key: "+strings.Join(sshKeyAlgorithms(), ", "))
	fs.StringVar(&f.KnownHostsFile, "known-hosts", "", "known_hosts file with the git server's host key (default: read it from the server, once, and keep it)")
	fs.StringVar(&f.Username, "username", "", "HTTPS username for "+whose)
	fs.StringVar(&f.PasswordFile, "password-file", "", "File holding the HTTPS password or token")
	fs.StringVar(&f.PasswordEnv, "password-env", "", "Environment variable holding the HTTPS password or token")
	fs.BoolVar(&f.PasswordStdin, "password-stdin", false, "Read the HTTPS password or token from stdin")
	fs.StringVar(&f.BearerTokenFile, "bearer-token-file", "", "File holding a bearer token for "+whose)
	fs.StringVar(&f.BearerTokenEnv, "bearer-token-env", "", "Environment variable holding a bearer token")
	fs.StringVar(&f.CAFile, "ca-file", "", "PEM file of the CA that signs a private git server's certificate")
	fs.StringVar(&f.GitHubAppID, "github-app-id", "", "GitHub App ID (with --github-app-installation-id and --github-app-private-key-file)")
	fs.StringVar(&f.GitHubAppInstallationID, "github-app-installation-id", "", "GitHub App installation ID")
	fs.StringVar(&f.GitHubAppPrivateKeyFile, "github-app-private-key-file", "", "GitHub App private key file")
	fs.StringVar(&f.GitHubAppBaseURL, "github-app-base-url", "", "GitHub Enterprise API URL of the GitHub App (default github.com)")
	fs.BoolVar(&f.RotateKey, "rotate-key", false, "Generate a new SSH key even if one is stored (the old deploy key stops working)")
	fs.BoolVar(&f.AllowInsecureHTTP, "allow-insecure-http", false, "Allow a password or token over plain http:// (a git server on a trusted network); Flux then sends it in the clear")
}

// Given reports whether any credential was asked for.
func (f *CredentialFlags) Given() bool {
	return f.SecretRef != "" || f.PrivateKeyFile != "" || f.KnownHostsFile != "" || f.Username != "" ||
		f.PasswordFile != "" || f.PasswordEnv != "" || f.PasswordStdin || f.BearerTokenFile != "" ||
		f.BearerTokenEnv != "" || f.CAFile != "" || f.GitHubAppID != "" || f.GitHubAppPrivateKeyFile != "" || f.RotateKey
}

// Validate checks what the flags alone can tell: one source for each
// secret, and a Secret reference alone.
func (f *CredentialFlags) Validate() error {
	passwords := 0
	for _, set := range []bool{f.PasswordFile != "", f.PasswordEnv != "", f.PasswordStdin} {
		if set {
			passwords++
		}
	}
	switch {
	case passwords > 1:
		return fmt.Errorf("give the password one way: --password-file, --password-env or --password-stdin")
	case f.BearerTokenFile != "" && f.BearerTokenEnv != "":
		return fmt.Errorf("give the bearer token one way: --bearer-token-file or --bearer-token-env")
	case f.SecretRef != "" && f.countOthers() > 0:
		return fmt.Errorf("--secret-ref %s names a Secret that holds the credentials: give no other credential flag with it", f.SecretRef)
	case !slices.Contains(sshKeyAlgorithms(), f.SSHKeyAlgorithm) && f.SSHKeyAlgorithm != "":
		return fmt.Errorf("invalid --ssh-key-algorithm %q: must be one of %s", f.SSHKeyAlgorithm, strings.Join(sshKeyAlgorithms(), ", "))
	case (f.GitHubAppID != "" || f.GitHubAppInstallationID != "" || f.GitHubAppPrivateKeyFile != "") &&
		(f.GitHubAppID == "" || f.GitHubAppInstallationID == "" || f.GitHubAppPrivateKeyFile == ""):
		return fmt.Errorf("a GitHub App needs all of --github-app-id, --github-app-installation-id and --github-app-private-key-file")
	}
	return nil
}

func (f *CredentialFlags) countOthers() int {
	rest := *f
	rest.SecretRef, rest.SSHKeyAlgorithm, rest.AllowInsecureHTTP = "", "", false
	if rest.Given() {
		return 1
	}
	return 0
}

// Resolved are credentials read, generated or kept, ready to render.
type Resolved struct {
	// Insecure is set when a password or token will go over plain HTTP,
	// as --allow-insecure-http allowed: commands warn of it.
	Insecure    bool
	Credentials *render.GitCredentials
	// GeneratedKey is the public key of a key made by this run, to be
	// registered with the git server as a read-only deploy key.
	GeneratedKey string
	// KeptKey is set when a stored key was kept.
	KeptKey bool
}

// InsecureWarning is what a command says when Insecure is set.
func InsecureWarning(gitURL string) string {
	return fmt.Sprintf("Warning: --allow-insecure-http: the password or token for %s goes over plain HTTP, readable by anyone on the network between source-controller and the git server", gitURL)
}

// Resolve reads the credentials the flags name for a source at gitURL.
// stored is the data of the Secret the source reads now, if any: its SSH
// key and known hosts are kept unless a new key is given or asked for,
// so a deploy key registered once stays valid.
func (f *CredentialFlags) Resolve(ctx context.Context, gitURL string, stdin io.Reader, stored map[string][]byte) (Resolved, error) {
	var r Resolved
	if f.SecretRef != "" {
		return r, nil
	}
	u, err := url.Parse(gitURL)
	if err != nil {
		return r, fmt.Errorf("invalid git URL: %w", err)
	}
	c := &render.GitCredentials{}
	if u.Scheme == "ssh" {
		if err := f.resolveSSH(ctx, u, stored, c, &r); err != nil {
			return r, err
		}
	} else if err := f.resolveHTTP(stdin, c); err != nil {
		return r, err
	}
	if f.CAFile != "" {
		if c.CA, err = readPEM(f.CAFile, "--ca-file", "CERTIFICATE"); err != nil {
			return r, err
		}
	}
	if err := c.Validate(gitURL, f.AllowInsecureHTTP); err != nil {
		return r, err
	}
	if len(c.SecretData()) > 0 {
		r.Credentials = c
	}
	r.Insecure = u.Scheme == "http" && (c.Password != "" || c.BearerToken != "" || c.GitHubApp != nil)
	return r, nil
}

// resolveSSH takes the key from --private-key-file, the stored Secret or
// a new one, and the host key from --known-hosts, the stored Secret or
// the server itself.
func (f *CredentialFlags) resolveSSH(ctx context.Context, u *url.URL, stored map[string][]byte, c *render.GitCredentials, r *Resolved) error {
	if f.Username != "" || f.PasswordFile != "" || f.PasswordEnv != "" || f.PasswordStdin || f.BearerTokenFile != "" || f.BearerTokenEnv != "" || f.GitHubAppID != "" {
		return fmt.Errorf("a username, password, bearer token or GitHub App needs an https:// URL, not ssh://")
	}
	var err error
	switch {
	case f.PrivateKeyFile != "":
		c.Identity, c.IdentityPub, err = readPrivateKey(f.PrivateKeyFile)
	case len(stored[render.SecretIdentityKey]) > 0 && !f.RotateKey:
		c.Identity, c.IdentityPub, r.KeptKey = stored[render.SecretIdentityKey], stored[render.SecretIdentityPubKey], true
	default:
		c.Identity, c.IdentityPub, err = generateKey(f.SSHKeyAlgorithm)
		r.GeneratedKey = strings.TrimSpace(string(c.IdentityPub))
	}
	if err != nil {
		return err
	}
	switch {
	case f.KnownHostsFile != "":
		c.KnownHosts, err = readKnownHosts(f.KnownHostsFile)
	case len(stored[render.SecretKnownHostsKey]) > 0:
		c.KnownHosts = stored[render.SecretKnownHostsKey]
	default:
		c.KnownHosts, err = ScanHostKey(ctx, u)
	}
	return err
}

// resolveHTTP reads the username, password or token, and GitHub App.
func (f *CredentialFlags) resolveHTTP(stdin io.Reader, c *render.GitCredentials) error {
	if f.PrivateKeyFile != "" || f.KnownHostsFile != "" {
		return fmt.Errorf("--private-key-file and --known-hosts need an ssh:// URL")
	}
	c.Username = f.Username
	var err error
	if c.Password, err = readSecretValue("password", f.PasswordFile, f.PasswordEnv, f.PasswordStdin, stdin); err != nil {
		return err
	}
	if c.BearerToken, err = readSecretValue("bearer token", f.BearerTokenFile, f.BearerTokenEnv, false, stdin); err != nil {
		return err
	}
	if f.GitHubAppID != "" {
		key, err := readPEM(f.GitHubAppPrivateKeyFile, "--github-app-private-key-file", "")
		if err != nil {
			return err
		}
		c.GitHubApp = &render.GitHubApp{AppID: f.GitHubAppID, InstallationID: f.GitHubAppInstallationID, PrivateKey: key, BaseURL: f.GitHubAppBaseURL}
	}
	return nil
}

// readSecretValue reads a password or token from a file, an environment
// variable or stdin, without its trailing line break. Errors never hold
// the value.
func readSecretValue(what, file, env string, fromStdin bool, stdin io.Reader) (string, error) {
	var data []byte
	var err error
	switch {
	case file != "":
		if data, err = os.ReadFile(file); err != nil {
			return "", fmt.Errorf("reading the %s: %w", what, err)
		}
	case env != "":
		value, ok := os.LookupEnv(env)
		if !ok || value == "" {
			return "", fmt.Errorf("the %s's environment variable %s is not set", what, env)
		}
		data = []byte(value)
	case fromStdin:
		if data, err = io.ReadAll(stdin); err != nil {
			return "", fmt.Errorf("reading the %s from stdin: %w", what, err)
		}
	default:
		return "", nil
	}
	value := strings.TrimRight(string(data), "\r\n")
	if value == "" || strings.ContainsAny(value, "\r\n") {
		return "", fmt.Errorf("the %s must be one non-empty line", what)
	}
	return value, nil
}

// readPrivateKey reads an unencrypted OpenSSH or PEM private key and
// derives its public key.
func readPrivateKey(path string) (private, public []byte, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading --private-key-file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, nil, fmt.Errorf("--private-key-file %s is protected by a passphrase: give an unencrypted deploy key", path)
	case err != nil:
		return nil, nil, fmt.Errorf("--private-key-file %s is not an SSH private key (OpenSSH or PEM): %v", path, parseError(err))
	}
	return data, ssh.MarshalAuthorizedKey(signer.PublicKey()), nil
}

// parseError keeps a key parser's error to its kind: some quote the
// input, which would print a key.
func parseError(err error) string {
	msg := err.Error()
	if len(msg) > 80 || strings.Contains(msg, "PRIVATE") {
		return "unreadable key"
	}
	return msg
}

// generateKey makes a key pair of algorithm, as flux create source git
// does: the private key in OpenSSH PEM, the public one as an
// authorized_keys line.
func generateKey(algorithm string) (private, public []byte, err error) {
	var key any
	switch algorithm {
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 4096)
	default:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generating an %s key: %w", algorithm, err)
	}
	block, err := ssh.MarshalPrivateKey(key, "kubectl-tenant")
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(block), ssh.MarshalAuthorizedKey(signer.PublicKey()), nil
}

// readKnownHosts reads a known_hosts file and checks each line parses.
func readKnownHosts(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --known-hosts: %w", err)
	}
	rest := data
	found := false
	for len(bytes.TrimSpace(rest)) > 0 {
		var err error
		_, _, _, _, rest, err = ssh.ParseKnownHosts(rest)
		if err != nil {
			return nil, fmt.Errorf("--known-hosts %s is not a known_hosts file: %v", path, err)
		}
		found = true
	}
	if !found {
		return nil, fmt.Errorf("--known-hosts %s holds no host key", path)
	}
	return data, nil
}

// readPEM reads a PEM file; blockType, when set, is the block it must hold.
func readPEM(path, flag, blockType string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", flag, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || (blockType != "" && block.Type != blockType) {
		want := "a PEM file"
		if blockType != "" {
			want = "a PEM " + blockType
		}
		return nil, fmt.Errorf("%s %s is not %s", flag, path, want)
	}
	return data, nil
}

// ScanHostKey reads the host key an SSH server presents, as ssh-keyscan
// (and flux create source git) does, as a known_hosts line. Trusting it
// on first use is the same choice flux makes; --known-hosts pins a key
// learned another way.
func ScanHostKey(ctx context.Context, u *url.URL) ([]byte, error) {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "22")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("reading the host key of %s: %w (give it with --known-hosts)", host, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	var line []byte
	errSeen := errors.New("host key seen")
	config := &ssh.ClientConfig{User: "git", HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
		line = []byte(knownhosts.Line([]string{knownhosts.Normalize(host)}, key) + "\n")
		return errSeen
	}}
	if _, _, _, err := ssh.NewClientConn(conn, host, config); line == nil {
		return nil, fmt.Errorf("reading the host key of %s: %v (give it with --known-hosts)", host, err)
	}
	return line, nil
}
