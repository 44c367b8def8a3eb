package render

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/internal/golden"
)

// fluxInstall is Flux's install manifests for the default components, as
// bootstrap generates them; internal/fluxinstall keeps the fixture equal to
// the generator's output.
func fluxInstall(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func bootstrapOptions() BootstrapOptions {
	o := DefaultBootstrapOptions()
	o.GitURL = "https://example.com/platform/tenants.git"
	return o
}

func renderBootstrap(t *testing.T, o BootstrapOptions) []*unstructured.Unstructured {
	t.Helper()
	b, err := RenderBootstrap(o, fluxInstall(t, "flux-install.yaml"))
	if err != nil {
		t.Fatalf("RenderBootstrap: %v", err)
	}
	objs, err := b.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func containerArgs(t *testing.T, deploy *unstructured.Unstructured) []string {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return args
}

func TestRenderBootstrapInstallsFluxWatchingAllNamespaces(t *testing.T) {
	objs := renderBootstrap(t, bootstrapOptions())
	for _, want := range []struct{ kind, name string }{
		{"Namespace", "flux-system"},
		{"CustomResourceDefinition", "gitrepositories.source.toolkit.fluxcd.io"},
		{"CustomResourceDefinition", "kustomizations.kustomize.toolkit.fluxcd.io"},
		{"Deployment", "source-controller"},
		{"Deployment", "kustomize-controller"},
		{"GitRepository", "default"},
	} {
		if find(objs, want.kind, want.name) == nil {
			t.Errorf("no %s %s in the bootstrap manifests", want.kind, want.name)
		}
	}
	for _, absent := range []string{"helm-controller", "notification-controller"} {
		if find(objs, "Deployment", absent) != nil {
			t.Errorf("%s is installed though not among the default components", absent)
		}
	}
	for _, name := range []string{"source-controller", "kustomize-controller"} {
		args := containerArgs(t, find(objs, "Deployment", name))
		if !slices.Contains(args, "--watch-all-namespaces=true") {
			t.Errorf("%s args %v do not watch all namespaces", name, args)
		}
	}
	if last := objs[len(objs)-1]; last.GetKind() != "GitRepository" {
		t.Errorf("the GitRepository must come last, got %s", last.GetKind())
	}
	for _, obj := range objs {
		if _, ok := obj.Object["status"]; ok {
			t.Errorf("%s %s carries a status", obj.GetKind(), obj.GetName())
		}
	}
}

func TestRenderBootstrapLockdown(t *testing.T) {
	o := bootstrapOptions()
	o.Lockdown = true
	o.Components = KnownComponents()
	b, err := RenderBootstrap(o, fluxInstall(t, "flux-install-all.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := b.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	// Flux's reference (flux2-multi-tenancy) patches these controllers.
	for controller, want := range map[string][]string{
		"kustomize-controller":        {"--no-cross-namespace-refs=true", "--default-service-account=default", "--no-remote-bases=true"},
		"helm-controller":             {"--no-cross-namespace-refs=true", "--default-service-account=default"},
		"notification-controller":     {"--no-cross-namespace-refs=true"},
		"image-reflector-controller":  {"--no-cross-namespace-refs=true"},
		"image-automation-controller": {"--no-cross-namespace-refs=true"},
		"source-controller":           nil,
		"source-watcher":              nil,
	} {
		args := containerArgs(t, find(objs, "Deployment", controller))
		if !slices.Contains(args, "--watch-all-namespaces=true") {
			t.Errorf("lockdown %s args %v no longer watch all namespaces", controller, args)
		}
		for _, flag := range []string{"--no-cross-namespace-refs=true", "--default-service-account=default", "--no-remote-bases=true"} {
			if got := slices.Contains(args, flag); got != slices.Contains(want, flag) {
				t.Errorf("lockdown %s: has %s = %v, want %v (args %v)", controller, flag, got, !got, args)
			}
		}
	}
	policy := find(objs, "ValidatingAdmissionPolicy", GuardrailPolicyName)
	binding := find(objs, "ValidatingAdmissionPolicyBinding", GuardrailPolicyName)
	if policy == nil || binding == nil {
		t.Fatalf("lockdown installs no guardrail policy and binding")
	}
	if actions, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions"); !slices.Equal(actions, []string{"Deny"}) {
		t.Errorf("the guardrail binding's actions are %v, want [Deny]", actions)
	}
	if last := objs[len(objs)-1]; last.GetKind() != "GitRepository" {
		t.Errorf("the GitRepository must come last, got %s", last.GetKind())
	}

	plain := renderBootstrap(t, bootstrapOptions())
	if args := containerArgs(t, find(plain, "Deployment", "kustomize-controller")); slices.Contains(args, "--default-service-account=default") || slices.Contains(args, "--no-cross-namespace-refs=true") {
		t.Errorf("default mode is locked down: %v", args)
	}
	if find(plain, "ValidatingAdmissionPolicy", GuardrailPolicyName) != nil {
		t.Errorf("default mode installs the guardrail policy")
	}
}

func TestGuardrailPolicyGolden(t *testing.T) {
	policy, binding := GuardrailPolicy()
	var objs []*unstructured.Unstructured
	for _, obj := range []any{policy, binding} {
		u, err := ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	out, err := EncodeYAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "guardrail-policy.yaml", out)
}

func TestRenderBootstrapGitRepositoryGolden(t *testing.T) {
	objs := renderBootstrap(t, bootstrapOptions())
	out, err := EncodeYAML(objs[len(objs)-1:])
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "gitrepository-default.yaml", out)
}

func TestRenderBootstrapIsDeterministic(t *testing.T) {
	first, err := EncodeYAML(renderBootstrap(t, bootstrapOptions()))
	if err != nil {
		t.Fatal(err)
	}
	again, err := EncodeYAML(renderBootstrap(t, bootstrapOptions()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("two renders of the same bootstrap differ")
	}
}

// TestMarshalYAMLMatchesSigsYAMLOnFlux: on Flux's own manifests (CRDs
// with long descriptions, numbers, quoted strings), the direct encoder
// prints exactly what sigs.k8s.io/yaml, and so kubectl, prints.
func TestMarshalYAMLMatchesSigsYAMLOnFlux(t *testing.T) {
	objs := renderBootstrap(t, bootstrapOptions())
	if len(objs) < 20 {
		t.Fatalf("only %d objects in the bootstrap", len(objs))
	}
	checkSameBytesAsSigsYAML(t, objs)
}

func TestBootstrapValidate(t *testing.T) {
	for name, mutate := range map[string]func(*BootstrapOptions){
		"no git url":     func(o *BootstrapOptions) { o.GitURL = "" },
		"file url":       func(o *BootstrapOptions) { o.GitURL = "file:///tmp/repo" },
		"unknown":        func(o *BootstrapOptions) { o.Components = []string{"tiller"} },
		"no components":  func(o *BootstrapOptions) { o.Components = nil },
		"bad version":    func(o *BootstrapOptions) { o.Version = "latest" },
		"bad branch":     func(o *BootstrapOptions) { o.Branch = "" },
		"zero interval":  func(o *BootstrapOptions) { o.Interval = 0 },
		"ignore newline": func(o *BootstrapOptions) { o.IgnorePaths = []string{"a\nb"} },
	} {
		o := DefaultBootstrapOptions()
		o.GitURL = "https://example.com/r"
		mutate(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRenderBootstrapChecksTheManifests: manifests generated for other
// components than the options name are refused, not applied half-way.
func TestRenderBootstrapChecksTheManifests(t *testing.T) {
	o := bootstrapOptions()
	o.Components = KnownComponents()
	if _, err := RenderBootstrap(o, fluxInstall(t, "flux-install.yaml")); err == nil || !strings.Contains(err.Error(), "no Deployment helm-controller") {
		t.Errorf("manifests without helm-controller were accepted for all components: %v", err)
	}
	if _, err := RenderBootstrap(o, fluxInstall(t, "flux-install-all.yaml")); err != nil {
		t.Errorf("the manifests of all components were refused: %v", err)
	}
	if _, err := RenderBootstrap(bootstrapOptions(), []byte("kind: [")); err == nil {
		t.Error("manifests that are not YAML were accepted")
	}
}

// TestBootstrapCredentials: the Secret holds Flux's keys and the source
// points at it; a GitHub App sets the github provider.
func TestBootstrapCredentials(t *testing.T) {
	o := DefaultBootstrapOptions()
	o.GitURL = "https://github.com/acme/platform"
	o.Credentials = &GitCredentials{GitHubApp: &GitHubApp{AppID: "1", InstallationID: "2", PrivateKey: []byte("key")}, CA: []byte("ca")}
	b, err := RenderBootstrap(o, fluxInstall(t, "flux-install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Secret == nil || b.Secret.Name != BootstrapSecretName || b.Secret.Namespace != FluxNamespace {
		t.Fatalf("Secret = %v", b.Secret)
	}
	keys := SortedKeys(b.Secret.Data)
	if got := strings.Join(keys, ","); got != "ca.crt,githubAppID,githubAppInstallationID,githubAppPrivateKey" {
		t.Errorf("Secret keys = %s", got)
	}
	if ref := b.GitRepository.Spec.SecretRef; ref == nil || ref.Name != BootstrapSecretName || b.GitRepository.Spec.Provider != GitHubProvider {
		t.Errorf("source secretRef %v provider %q", ref, b.GitRepository.Spec.Provider)
	}
	o.Credentials, o.SecretRef = nil, "platform-git"
	if b, err = RenderBootstrap(o, fluxInstall(t, "flux-install.yaml")); err != nil || b.Secret != nil || b.GitRepository.Spec.SecretRef.Name != "platform-git" {
		t.Errorf("--secret-ref: %v, Secret %v", err, b)
	}
	o.SecretRef, o.GitURL = "", "http://git.internal/platform"
	o.Credentials = &GitCredentials{Username: "u", Password: "hunter2"}
	if _, err := RenderBootstrap(o, fluxInstall(t, "flux-install.yaml")); err == nil || !strings.Contains(err.Error(), "refusing to send a password or token over plain http://git.internal/platform") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a password over http: %v", err)
	}
}
