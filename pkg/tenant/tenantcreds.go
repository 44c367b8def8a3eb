package tenant

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// TenantSourceSecretName names the Secret of a confined tenant's own
// source that add makes from the credential flags, in the tenant's
// namespace: a GitRepository reads Secrets of its own namespace only.
func TenantSourceSecretName(sourceName string) string {
	return sourceName + render.TenantSourceSecretSuffix
}

// ResolveCredentials gives each confined tenant whose own source is
// --git-url the credentials the flags name: a Secret in its namespace
// (each tenant its own SSH key, generated unless given or stored), or the
// --secret-ref it names there. Keys and host keys already stored are
// kept, so deploy keys registered once stay valid.
func (s *Settings) ResolveCredentials(ctx context.Context, c *Clients, tenants []render.TenantOptions, stdin io.Reader) (TenantCredentials, error) {
	out := TenantCredentials{GeneratedKeys: map[string]string{}}
	generated := out.GeneratedKeys
	if !s.Confine || s.GitURL == "" {
		return out, nil
	}
	u, err := url.Parse(s.GitURL)
	if err != nil {
		return out, fmt.Errorf("invalid --git-url: %w", err)
	}
	if u.Scheme != "ssh" && !s.Credentials.Given() {
		return out, nil
	}
	var shared *Resolved  // HTTP credentials are the same for every tenant
	var knownHosts []byte // one server, one host key, read once
	for i := range tenants {
		t := &tenants[i]
		secretName := TenantSourceSecretName(t.Confinement.Source.Name)
		r, err := s.resolveOne(ctx, c, t.Namespace, secretName, u.Scheme == "ssh", stdin, shared, knownHosts)
		if err != nil {
			return out, fmt.Errorf("tenant %s: %w", t.Namespace, err)
		}
		if u.Scheme != "ssh" {
			shared = &r
		} else if r.Credentials != nil {
			knownHosts = r.Credentials.KnownHosts
		}
		if r.GeneratedKey != "" {
			generated[t.Namespace] = r.GeneratedKey
		}
		out.Insecure = out.Insecure || r.Insecure
		t.Confinement = withCredentials(t.Confinement, secretName, s.Credentials.SecretRef, r.Credentials)
	}
	return out, nil
}

// TenantCredentials are what resolving the tenants' credentials made that
// the user must hear of.
type TenantCredentials struct {
	// GeneratedKeys are the public keys generated, by namespace.
	GeneratedKeys map[string]string
	// Insecure is set when a password or token goes over plain HTTP.
	Insecure bool
}

// resolveOne resolves one tenant's credentials, reusing the HTTP ones and
// the host key the first tenant resolved.
func (s *Settings) resolveOne(ctx context.Context, c *Clients, namespace, secretName string, ssh bool, stdin io.Reader, shared *Resolved, knownHosts []byte) (Resolved, error) {
	if shared != nil {
		return *shared, nil
	}
	var stored map[string][]byte
	if ssh && !s.Credentials.RotateKey && c != nil {
		var err error
		if stored, err = SecretData(ctx, c, namespace, secretName); err != nil {
			return Resolved{}, fmt.Errorf("reading Secret %s/%s: %w", namespace, secretName, err)
		}
	}
	if len(knownHosts) > 0 && len(stored[render.SecretKnownHostsKey]) == 0 {
		stored = maps.Clone(stored)
		if stored == nil {
			stored = map[string][]byte{}
		}
		stored[render.SecretKnownHostsKey] = knownHosts
	}
	return s.Credentials.Resolve(ctx, s.GitURL, stdin, stored)
}

// withCredentials is conf with its source reading the credentials: a
// Secret of its own rendered from creds, or the Secret secretRef names.
// Every tenant gets a copy, since each has a key of its own.
func withCredentials(conf *render.Confinement, secretName, secretRef string, creds *render.GitCredentials) *render.Confinement {
	out := *conf
	out.Source.Spec = runtime.DeepCopyJSON(conf.Source.Spec)
	out.Source.Secrets = nil
	switch {
	case secretRef != "":
		out.Source.Spec["secretRef"] = map[string]any{"name": secretRef}
	case creds != nil:
		out.Source.Spec["secretRef"] = map[string]any{"name": secretName}
		out.Source.Secrets = []render.SourceSecret{{Name: secretName, Type: corev1.SecretTypeOpaque, Data: creds.SecretData()}}
		if creds.GitHubApp != nil {
			out.Source.Spec["provider"] = render.GitHubProvider
		}
	}
	return &out
}
