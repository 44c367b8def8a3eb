package tenant

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// TenantSourceSecretName names the Secret of a confined tenant's own
// source that add makes from the credential flags, in the tenant's
// namespace: a GitRepository reads Secrets of its own namespace only.
func TenantSourceSecretName(sourceName string) string {
	return sourceName + render.TenantSourceSecretSuffix
}

// ownSource is where a confined tenant's own source fetches from and
// with what: the flags', or a file entry's.
type ownSource struct {
	GitURL      string
	Credentials CredentialFlags
}

// sourceOf is the tenant's own source: its file entry's, else the flags'.
func (s *Settings) sourceOf(namespace string) ownSource {
	if src, ok := s.fileSources[namespace]; ok {
		return src
	}
	return ownSource{GitURL: s.GitURL, Credentials: s.Credentials}
}

// ResolveCredentials gives each confined tenant whose own source is a git
// URL (--git-url, or its entry's gitURL in -f) the credentials named for
// it: a Secret in its namespace (each tenant its own SSH key, generated
// unless given or stored), or the --secret-ref it names there. Keys and
// host keys already stored are kept, so deploy keys registered once stay
// valid; a password read from stdin and a server's host key are read once.
func (s *Settings) ResolveCredentials(ctx context.Context, c *Clients, tenants []render.TenantOptions, stdin io.Reader) (TenantCredentials, error) {
	out := TenantCredentials{GeneratedKeys: map[string]string{}, SourceURLs: map[string]string{}}
	shared := map[string]*Resolved{}  // by URL: HTTP credentials of the flags
	knownHosts := map[string][]byte{} // by URL: one server, one host key
	for i := range tenants {
		t := &tenants[i]
		src := s.sourceOf(t.Namespace)
		if t.Confinement == nil || src.GitURL == "" {
			continue
		}
		u, err := url.Parse(src.GitURL)
		if err != nil {
			return out, fmt.Errorf("tenant %s: invalid git URL: %w", t.Namespace, err)
		}
		if u.Scheme != "ssh" && !src.Credentials.Given() {
			continue
		}
		secretName := TenantSourceSecretName(t.Confinement.Source.Name)
		var r Resolved
		if cached := shared[src.GitURL]; cached != nil && src.Credentials == s.Credentials {
			r = *cached
		} else if r, err = resolveOne(ctx, c, t.Namespace, secretName, src, stdin, knownHosts[src.GitURL]); err != nil {
			return out, fmt.Errorf("tenant %s: %w", t.Namespace, err)
		}
		if u.Scheme != "ssh" && src.Credentials == s.Credentials {
			shared[src.GitURL] = &r
		} else if r.Credentials != nil {
			knownHosts[src.GitURL] = r.Credentials.KnownHosts
		}
		if r.GeneratedKey != "" {
			out.GeneratedKeys[t.Namespace] = r.GeneratedKey
			out.SourceURLs[t.Namespace] = src.GitURL
		}
		out.Insecure = out.Insecure || r.Insecure
		t.Confinement = withCredentials(t.Confinement, secretName, src.Credentials.SecretRef, r.Credentials)
		if err := keepPluginSecret(ctx, c, t); err != nil {
			return out, err
		}
	}
	return out, nil
}

// TenantCredentials are what resolving the tenants' credentials made that
// the user must hear of.
type TenantCredentials struct {
	// GeneratedKeys are the public keys generated, by namespace.
	GeneratedKeys map[string]string
	// SourceURLs are, by namespace, the repositories the generated keys
	// are for.
	SourceURLs map[string]string
	// Insecure is set when a password or token goes over plain HTTP.
	Insecure bool
}

// resolveOne resolves one tenant's credentials, keeping its stored key and
// reusing a host key already read from the same server.
func resolveOne(ctx context.Context, c *Clients, namespace, secretName string, src ownSource, stdin io.Reader, knownHosts []byte) (Resolved, error) {
	var stored map[string][]byte
	// A secretRef names a Secret that is not resolved here: nothing to keep.
	if !src.Credentials.RotateKey && src.Credentials.SecretRef == "" && c != nil {
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
	return src.Credentials.Resolve(ctx, src.GitURL, stdin, stored)
}

// keepPluginSecret keeps, as part of the tenant, a Secret that a secretRef
// names and that kubectl tenant made from credential flags: an exported
// fleet file references it by name, since the file holds no secret, and
// applying that file must neither drop the Secret from the tenant (and
// from its guardrails) nor plan a change. A Secret someone else made is
// only referenced, as before.
func keepPluginSecret(ctx context.Context, c *Clients, t *render.TenantOptions) error {
	name, _, _ := unstructured.NestedString(t.Confinement.Source.Spec, "secretRef", "name")
	if c == nil || name == "" || len(t.Confinement.Source.Secrets) > 0 {
		return nil
	}
	secret, err := getSecret(ctx, c, t.Namespace, name)
	if err != nil {
		return fmt.Errorf("tenant %s: reading Secret %s: %w", t.Namespace, name, err)
	}
	if secret == nil || secret.GetLabels()[render.ManagedByLabelKey] != render.ManagedByValue {
		return nil
	}
	t.Confinement.Source.Secrets = []render.SourceSecret{readSecret(secret)}
	return nil
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
