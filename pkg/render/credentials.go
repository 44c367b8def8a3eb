package render

import (
	"fmt"
	"net/url"
	"strings"
)

// The keys of a GitRepository's Secret, as source-controller reads them.
const (
	SecretIdentityKey        = "identity"
	SecretIdentityPubKey     = "identity.pub"
	SecretKnownHostsKey      = "known_hosts"
	SecretUsernameKey        = "username"
	SecretPasswordKey        = "password"
	SecretBearerTokenKey     = "bearerToken"
	SecretCAKey              = "ca.crt"
	SecretGitHubAppIDKey     = "githubAppID"
	SecretGitHubInstallKey   = "githubAppInstallationID"
	SecretGitHubPrivKeyKey   = "githubAppPrivateKey"
	SecretGitHubBaseURLKey   = "githubAppBaseURL"
	GitHubProvider           = "github"
	BootstrapSecretName      = FluxNamespace
	TenantSourceSecretSuffix = "-auth"
)

// GitCredentials are what a GitRepository authenticates with: the values
// of its Secret. Reading them from files, the environment or a terminal,
// generating a key and reading a server's host key are the caller's
// business, so rendering stays pure.
type GitCredentials struct {
	// SSH: an OpenSSH private key (PEM), its public key as an
	// authorized_keys line, and the server's host key as known_hosts lines.
	Identity, IdentityPub, KnownHosts []byte
	// HTTPS basic auth; Password may be a token.
	Username, Password string
	// BearerToken is sent as an Authorization: Bearer header.
	BearerToken string
	// CA is a PEM bundle that signs a private git server's certificate.
	CA []byte
	// GitHubApp authenticates as a GitHub App installation.
	GitHubApp *GitHubApp
}

// GitHubApp is a GitHub App's identity, as source-controller's github
// provider reads it.
type GitHubApp struct {
	AppID, InstallationID string
	PrivateKey            []byte
	// BaseURL is GitHub Enterprise's API URL; empty for github.com.
	BaseURL string
}

// SecretData is the Secret's data; empty when there is nothing to store.
func (c *GitCredentials) SecretData() map[string][]byte {
	if c == nil {
		return nil
	}
	data := map[string][]byte{}
	put := func(key string, value []byte) {
		if len(value) > 0 {
			data[key] = value
		}
	}
	put(SecretIdentityKey, c.Identity)
	put(SecretIdentityPubKey, c.IdentityPub)
	put(SecretKnownHostsKey, c.KnownHosts)
	put(SecretUsernameKey, []byte(c.Username))
	put(SecretPasswordKey, []byte(c.Password))
	put(SecretBearerTokenKey, []byte(c.BearerToken))
	put(SecretCAKey, c.CA)
	if app := c.GitHubApp; app != nil {
		put(SecretGitHubAppIDKey, []byte(app.AppID))
		put(SecretGitHubInstallKey, []byte(app.InstallationID))
		put(SecretGitHubPrivKeyKey, app.PrivateKey)
		put(SecretGitHubBaseURLKey, []byte(app.BaseURL))
	}
	return data
}

// Validate checks that the credentials suit the URL: SSH keys an ssh://
// URL, the rest HTTPS (or HTTP when allowInsecure, for a git server on a
// trusted network: source-controller itself would send them in the clear).
func (c *GitCredentials) Validate(rawURL string, allowInsecure bool) error {
	if c == nil {
		c = &GitCredentials{} // a URL may carry a password all the same
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("invalid git URL %q: must be ssh://, https:// or http://", redactURL(rawURL))
	}
	ssh := len(c.Identity) > 0 || len(c.KnownHosts) > 0
	httpAuth := c.Username != "" || c.Password != "" || c.BearerToken != "" || c.GitHubApp != nil
	switch {
	case ssh && u.Scheme != "ssh":
		return fmt.Errorf("an SSH key or known_hosts needs an ssh:// URL, not %s://", u.Scheme)
	case httpAuth && u.Scheme == "ssh":
		return fmt.Errorf("a username, password, bearer token or GitHub App needs an https:// URL, not ssh://")
	case httpAuth && u.Scheme == "http" && !allowInsecure:
		return fmt.Errorf("refusing to send a password or token over plain %s: use https://, or pass --allow-insecure-http for a git server on a trusted network", redactURL(rawURL))
	case c.Password != "" && c.Username == "":
		return fmt.Errorf("a password needs --username")
	case c.Password != "" && c.BearerToken != "":
		return fmt.Errorf("a password and a bearer token cannot be combined: give one")
	case hasPassword(u):
		return fmt.Errorf("the git URL %s carries credentials: give --username and --password-file instead, so they are stored in a Secret", redactURL(rawURL))
	}
	return nil
}

func hasPassword(u *url.URL) bool {
	if u.User == nil {
		return false
	}
	_, set := u.User.Password()
	return set
}

// ValidateGitURL checks a git URL that carries no credentials of the
// flags: its scheme, and no password inside it. Without credentials there
// is nothing to send over plain HTTP, so it needs no allowInsecure.
func ValidateGitURL(rawURL string) error {
	var none *GitCredentials
	return none.Validate(rawURL, false)
}

// redactURL drops a URL's user information, so an error never prints a
// password someone put in it.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !hasPassword(u) {
		if i := strings.Index(raw, "@"); err != nil && i >= 0 {
			return "<url with credentials>"
		}
		return raw
	}
	u.User = url.UserPassword(u.User.Username(), "REDACTED")
	return u.String()
}
