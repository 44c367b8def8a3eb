package render

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/install"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// DefaultFluxVersion is the Flux release the project is tested with,
	// written only here: hack/lib/flux-version.sh reads this line (keep its
	// `DefaultFluxVersion = "vX.Y.Z"` form) for the build and bench scripts.
	DefaultFluxVersion = "v2.9.5"
	// FluxNamespace is where Flux runs and where the shared source lives.
	FluxNamespace     = "flux-system"
	DefaultSourceName = "default"
	DefaultBranch     = "main"
)

// DefaultComponents are the controllers a tenant needs: the source that
// fetches the template and the controller that applies it.
func DefaultComponents() []string { return []string{"source-controller", "kustomize-controller"} }

// DefaultIgnorePaths are the files the demo kept out of Flux's artifact.
func DefaultIgnorePaths() []string { return []string{"ctrl.py", "README.md"} }

// LockdownArgs are the flags of Flux's multi-tenancy lockdown for a
// controller, as Flux's reference (flux2-multi-tenancy) sets them:
//   - --no-cross-namespace-refs: an object may refer only to sources and
//     objects in its own namespace, so a tenant cannot build another
//     tenant's (or the platform's) source into its namespace;
//   - --default-service-account=default: an object without
//     serviceAccountName is applied as its namespace's "default"
//     ServiceAccount, which may do nothing, instead of the controller's
//     own cluster-admin identity;
//   - --no-remote-bases: no kustomize bases fetched from the network,
//     where nobody reviewed them.
//
// source-controller and source-watcher take none of them.
func LockdownArgs(component string) []string {
	const noCrossNamespaceRefs, defaultSA = "--no-cross-namespace-refs=true", "--default-service-account=default"
	switch component {
	case "kustomize-controller":
		return []string{noCrossNamespaceRefs, defaultSA, "--no-remote-bases=true"}
	case "helm-controller":
		return []string{noCrossNamespaceRefs, defaultSA}
	case "notification-controller", "image-reflector-controller", "image-automation-controller":
		return []string{noCrossNamespaceRefs}
	}
	return nil
}

// BootstrapOptions say how to install Flux and the shared source.
type BootstrapOptions struct {
	// Version is the Flux version the install manifests are of, recorded
	// in their header.
	Version string
	// Components are the Flux controllers to install.
	Components []string
	// NetworkPolicy installs Flux's network policies.
	NetworkPolicy bool
	// Lockdown sets Flux's lockdown flags (LockdownArgs) on every
	// controller and installs the guardrail policy (GuardrailPolicy).
	Lockdown bool

	GitURL      string
	Branch      string
	IgnorePaths []string
	SourceName  string
	Interval    time.Duration
	// SecretRef names an existing Secret in flux-system that the shared
	// source authenticates with; Credentials, instead, are rendered into
	// the Secret BootstrapSecretName.
	SecretRef   string
	Credentials *GitCredentials
	// AllowInsecureHTTP lets a password or token go over plain http://.
	AllowInsecureHTTP bool
}

// DefaultBootstrapOptions returns the demo's choices.
func DefaultBootstrapOptions() BootstrapOptions {
	return BootstrapOptions{
		Version:       DefaultFluxVersion,
		Components:    DefaultComponents(),
		NetworkPolicy: true,
		Branch:        DefaultBranch,
		IgnorePaths:   DefaultIgnorePaths(),
		SourceName:    DefaultSourceName,
		Interval:      time.Minute,
	}
}

// KnownComponents are the controllers Flux's install generator knows.
func KnownComponents() []string {
	defaults := install.MakeDefaultOptions()
	return append(defaults.Components, defaults.ComponentsExtra...)
}

// Validate checks the options and names the first bad value.
func (o BootstrapOptions) Validate() error {
	if !strings.HasPrefix(o.Version, "v") {
		return fmt.Errorf("invalid --version %q: must be a Flux release like %s", o.Version, DefaultFluxVersion)
	}
	known := KnownComponents()
	if len(o.Components) == 0 {
		return fmt.Errorf("invalid --components: must name at least one of %s", strings.Join(known, ", "))
	}
	for _, c := range o.Components {
		if !slices.Contains(known, c) {
			return fmt.Errorf("invalid --components entry %q: must be one of %s", c, strings.Join(known, ", "))
		}
	}
	if o.GitURL == "" {
		return fmt.Errorf("--git-url is required: the URL of the git repository holding the per-tenant template")
	}
	u, err := url.Parse(o.GitURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ssh") || u.Host == "" {
		return fmt.Errorf("invalid --git-url %q: must be an http, https or ssh URL (for example https://github.com/org/repo)", redactURL(o.GitURL))
	}
	if err := o.validateCredentials(); err != nil {
		return err
	}
	if o.Branch == "" || strings.ContainsAny(o.Branch, " \n\t~^:?*[\\") {
		return fmt.Errorf("invalid --branch %q: must be a git branch name", o.Branch)
	}
	for _, p := range o.IgnorePaths {
		if strings.ContainsAny(p, "\n\r") {
			return fmt.Errorf("invalid --ignore-paths entry %q: must not contain line breaks", p)
		}
	}
	if errs := validation.IsDNS1123Subdomain(o.SourceName); len(errs) > 0 {
		return fmt.Errorf("invalid source name %q: %s", o.SourceName, strings.Join(errs, "; "))
	}
	if o.Interval <= 0 {
		return fmt.Errorf("invalid --interval %s: must be greater than zero", o.Interval)
	}
	return nil
}

// validateCredentials checks the shared source's credentials against its
// URL: one way to give them, and none over plain HTTP unless allowed.
func (o BootstrapOptions) validateCredentials() error {
	if o.SecretRef != "" {
		if errs := validation.IsDNS1123Subdomain(o.SecretRef); len(errs) > 0 {
			return fmt.Errorf("invalid --secret-ref %q: %s", o.SecretRef, strings.Join(errs, "; "))
		}
		if len(o.Credentials.SecretData()) > 0 {
			return fmt.Errorf("--secret-ref %s names a Secret that holds the credentials: give no key, password or token with it", o.SecretRef)
		}
	}
	if err := o.Credentials.Validate(o.GitURL, o.AllowInsecureHTTP); err != nil {
		return fmt.Errorf("invalid credentials for --git-url: %w", err)
	}
	return nil
}

// InstallOptions are the options of Flux's install generator
// (manifestgen/install) that produce the install manifests RenderBootstrap
// takes: Flux in flux-system, watching all namespaces, with o's version,
// components and network policies, as `flux install` makes them.
func (o BootstrapOptions) InstallOptions() install.Options {
	opts := install.MakeDefaultOptions()
	opts.Version = o.Version
	opts.Namespace = FluxNamespace
	opts.Components = o.Components
	opts.ComponentsExtra = nil
	opts.WatchAllNamespaces = true
	opts.NetworkPolicy = o.NetworkPolicy
	opts.ManifestFile = FluxNamespace + ".yaml"
	return opts
}

// Bootstrap is what `kubectl tenant bootstrap` applies: Flux's install
// manifests and the shared GitRepository.
type Bootstrap struct {
	Install []*unstructured.Unstructured
	// Guardrails are the guardrail policy and its binding, with Lockdown.
	Guardrails []*unstructured.Unstructured
	// Secret holds the shared source's credentials, when given as values.
	Secret        *corev1.Secret
	GitRepository *sourcev1.GitRepository
}

// RenderBootstrap builds what bootstrap applies from installManifests,
// the multi-document YAML that Flux's generator made with
// o.InstallOptions(): cleaned for apply, with kustomize-controller locked
// down when o.Lockdown, and the shared GitRepository. Fetching or
// generating those manifests is the caller's business, so rendering needs
// no network and no files.
func RenderBootstrap(o BootstrapOptions, installManifests []byte) (*Bootstrap, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	installObjs, err := renderFluxInstall(o, installManifests)
	if err != nil {
		return nil, err
	}
	var guardrails []*unstructured.Unstructured
	if o.Lockdown {
		for _, obj := range LockdownPolicies() {
			u, err := ToUnstructured(obj)
			if err != nil {
				return nil, err
			}
			guardrails = append(guardrails, u)
		}
	}
	var ignore *string
	if len(o.IgnorePaths) > 0 {
		joined := strings.Join(o.IgnorePaths, "\n")
		ignore = &joined
	}
	b := &Bootstrap{
		Install:    installObjs,
		Guardrails: guardrails,
		GitRepository: &sourcev1.GitRepository{
			TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
			ObjectMeta: metav1.ObjectMeta{Name: o.SourceName, Namespace: FluxNamespace},
			Spec: sourcev1.GitRepositorySpec{
				URL:       o.GitURL,
				Interval:  metav1.Duration{Duration: o.Interval},
				Reference: &sourcev1.GitRepositoryRef{Branch: o.Branch},
				Ignore:    ignore,
			},
		},
	}
	b.authenticate(o)
	return b, nil
}

// authenticate points the shared source at its credentials: the Secret
// named by SecretRef, or one rendered from Credentials.
func (b *Bootstrap) authenticate(o BootstrapOptions) {
	name := o.SecretRef
	if data := o.Credentials.SecretData(); len(data) > 0 {
		name = BootstrapSecretName
		b.Secret = &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: FluxNamespace},
			Type:       corev1.SecretTypeOpaque,
			Data:       data,
		}
	}
	if name != "" {
		b.GitRepository.Spec.SecretRef = &meta.LocalObjectReference{Name: name}
	}
	if o.Credentials != nil && o.Credentials.GitHubApp != nil {
		b.GitRepository.Spec.Provider = GitHubProvider
	}
}

// Unstructured returns everything in apply order, the GitRepository last.
func (b *Bootstrap) Unstructured() ([]*unstructured.Unstructured, error) {
	repo, err := ToUnstructured(b.GitRepository)
	if err != nil {
		return nil, err
	}
	if err := unstructured.SetNestedField(repo.Object, ShortDuration(b.GitRepository.Spec.Interval.Duration), "spec", "interval"); err != nil {
		return nil, err
	}
	var secret []*unstructured.Unstructured
	if b.Secret != nil {
		u, err := ToUnstructured(b.Secret)
		if err != nil {
			return nil, err
		}
		secret = append(secret, u)
	}
	return slices.Concat(b.Install, b.Guardrails, secret, []*unstructured.Unstructured{repo}), nil
}

func renderFluxInstall(o BootstrapOptions, manifests []byte) ([]*unstructured.Unstructured, error) {
	objs, err := DecodeYAML(manifests)
	if err != nil {
		return nil, fmt.Errorf("reading Flux install manifests: %w", err)
	}
	for _, c := range o.Components {
		if !slices.ContainsFunc(objs, func(obj *unstructured.Unstructured) bool {
			return obj.GetKind() == "Deployment" && obj.GetName() == c
		}) {
			return nil, fmt.Errorf("the Flux install manifests have no Deployment %s: they were not generated for components %s", c, strings.Join(o.Components, ","))
		}
	}
	for _, obj := range objs {
		Clean(obj)
		if o.Lockdown && obj.GetKind() == "Deployment" && len(LockdownArgs(obj.GetName())) > 0 {
			if err := addContainerArgs(obj, "manager", LockdownArgs(obj.GetName())); err != nil {
				return nil, err
			}
		}
	}
	return objs, nil
}

// ManagerArgs are the args of a Flux controller Deployment's "manager"
// container, where Flux's install and LockdownArgs put its flags; nil when
// it has none.
func ManagerArgs(deploy *unstructured.Unstructured) []string {
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok && m["name"] == "manager" {
			args, _, _ := unstructured.NestedStringSlice(m, "args")
			return args
		}
	}
	return nil
}

// addContainerArgs sets flags on a Deployment's container, replacing any
// earlier value of the same flag.
func addContainerArgs(deploy *unstructured.Unstructured, container string, args []string) error {
	containers, _, err := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	if err != nil {
		return err
	}
	for i, c := range containers {
		cm, ok := c.(map[string]any)
		if !ok || cm["name"] != container {
			continue
		}
		existing, _, _ := unstructured.NestedStringSlice(cm, "args")
		var kept []any
		for _, a := range existing {
			name, _, _ := strings.Cut(a, "=")
			replaced := false
			for _, n := range args {
				newName, _, _ := strings.Cut(n, "=")
				replaced = replaced || name == newName
			}
			if !replaced {
				kept = append(kept, a)
			}
		}
		for _, a := range args {
			kept = append(kept, a)
		}
		cm["args"] = kept
		containers[i] = cm
		return unstructured.SetNestedSlice(deploy.Object, containers, "spec", "template", "spec", "containers")
	}
	return fmt.Errorf("deployment %s has no container %q to confine", deploy.GetName(), container)
}
