package gitauth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKey is the public half of the server's SSH host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey }

// KnownHosts is a known_hosts line for the server's host key, as
// ssh-keyscan prints it and as a Flux Secret's known_hosts key takes it:
// "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
func (s *Server) KnownHosts() []byte { return s.KnownHostsWithKey(s.hostKey) }

// KnownHostsWithKey is a known_hosts line that names this server with
// another host key, such as a second server's HostKey: what a client holds
// when the server's key changed or someone else answers at its address.
func (s *Server) KnownHostsWithKey(key ssh.PublicKey) []byte {
	// Normalize writes a host with a port other than 22 as [host]:port.
	host := knownhosts.Normalize(s.sshHostPort())
	return []byte(knownhosts.Line([]string{host}, key) + "\n")
}

// sshHostPort is the SSH server's 127.0.0.1:PORT.
func (s *Server) sshHostPort() string {
	u, err := url.Parse(s.git.SSHAddress())
	if err != nil {
		// gittestserver builds the address from a listener's; it parses.
		panic(fmt.Sprintf("gitauth: SSH address %q: %v", s.git.SSHAddress(), err))
	}
	return u.Host
}

// writeHostKey writes a new ed25519 host key where gitkit reads it, so that
// gitkit uses it instead of generating an RSA key whose public half this
// package would then have to read back. Ed25519 is what a default
// ssh-keyscan reports first, and it is quick to generate.
func writeHostKey(path string) (ssh.PublicKey, error) {
	pub, private, err := newEd25519PEM()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, private, 0o600); err != nil {
		return nil, fmt.Errorf("writing the SSH host key: %w", err)
	}
	return pub, nil
}

// ClientKey is an SSH client key pair in the forms a Flux Secret holds.
type ClientKey struct {
	// PrivateKey is the private key in OpenSSH PEM: the Secret's identity.
	PrivateKey []byte
	// AuthorizedKey is the public key as one authorized_keys line: the
	// Secret's identity.pub, and what Server.AuthorizeKey takes.
	AuthorizedKey []byte
}

// NewClientKey generates an ed25519 client key pair.
func NewClientKey(t testing.TB) ClientKey {
	t.Helper()
	pub, private, err := newEd25519PEM()
	if err != nil {
		t.Fatalf("gitauth: %v", err)
	}
	return ClientKey{PrivateKey: private, AuthorizedKey: ssh.MarshalAuthorizedKey(pub)}
}

// newEd25519PEM generates an ed25519 key pair and returns the public key
// and the unencrypted private key in OpenSSH PEM.
func newEd25519PEM() (ssh.PublicKey, []byte, error) {
	pub, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating an ed25519 key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(private, "")
	if err != nil {
		return nil, nil, fmt.Errorf("encoding an ed25519 key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return sshPub, pem.EncodeToMemory(block), nil
}
