package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-tenant/kubectl-tenant/internal/gitauth"
)

var secretGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// privateGitNamespace holds TestPrivateGitRepositories' sources, outside
// flux-system as a tenant's would be.
const privateGitNamespace = "private-git"

// privateSource is one GitRepository of TestPrivateGitRepositories and what
// source-controller should make of it.
type privateSource struct {
	name   string
	url    string
	secret map[string]string // the Secret's data in Flux's keys; nil: no secretRef
	// wantMessage is a part of Flux's Ready message when the fetch must fail;
	// "" means the fetch must succeed.
	wantMessage string
}

// TestPrivateGitRepositories proves gitauth's server against the real
// source-controller: a GitRepository whose Secret holds the right
// credentials, in Flux's documented keys, fetches over HTTP basic auth and
// over SSH, and each wrong credential is refused with Flux's own message.
// The test logs those messages so they can be mapped to one-line fixes.
func TestPrivateGitRepositories(t *testing.T) {
	t.Parallel()
	kustomizations := filepath.Join(theSuite.root, "kustomizations")
	git := gitauth.Start(t, gitauth.Options{Dir: kustomizations, Subdir: "kustomizations"})
	// other is there for its host key, which is not git's.
	other := gitauth.Start(t, gitauth.Options{Dir: kustomizations, Subdir: "kustomizations"})
	authorised, stranger := gitauth.NewClientKey(t), gitauth.NewClientKey(t)
	if err := git.AuthorizeKey(authorised.AuthorizedKey); err != nil {
		t.Fatal(err)
	}
	sources := []privateSource{
		{name: "http-basic-auth", url: git.HTTPURL(), secret: map[string]string{"username": git.Username(), "password": git.Password()}},
		{name: "http-wrong-password", url: git.HTTPURL(), secret: map[string]string{"username": git.Username(), "password": "not-" + git.Password()},
			wantMessage: "authentication required"},
		{name: "http-no-credentials", url: git.HTTPURL(), wantMessage: "authentication required"},
		{name: "ssh-authorised-key", url: git.SSHURL(), secret: sshSecret(authorised, git.KnownHosts())},
		{name: "ssh-unauthorised-key", url: git.SSHURL(), secret: sshSecret(stranger, git.KnownHosts()),
			wantMessage: "unable to authenticate"},
		{name: "ssh-mismatched-host-key", url: git.SSHURL(), secret: sshSecret(authorised, git.KnownHostsWithKey(other.HostKey())),
			wantMessage: "key mismatch"},
		{name: "ssh-unknown-host", url: git.SSHURL(), secret: sshSecret(authorised, other.KnownHosts()),
			wantMessage: "key is unknown"},
	}

	shared := startEnv(t, fluxEnvOptions(false))
	e := shared.with(t)
	e.bootstrap()
	e.createNamespace(privateGitNamespace, nil)
	// All sources first, so source-controller fetches them side by side.
	for _, s := range sources {
		e.createPrivateSource(s)
	}
	for _, s := range sources {
		t.Run(s.name, func(t *testing.T) { shared.with(t).checkPrivateSource(s) })
	}
	t.Run("a Kustomization applies the per-tenant template from the SSH source", func(t *testing.T) {
		shared.with(t).applyTemplateFrom("ssh-authorised-key")
	})
}

// applyTemplateFrom applies kustomizations/per-tenant from the Ready
// GitRepository source, as a tenant's Kustomization names it, proving the
// served tree is laid out as the plugin's sources expect.
func (e stepEnv) applyTemplateFrom(source string) {
	e.t.Helper()
	e.create(kustomizationGVR, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata":   map[string]any{"name": "per-tenant", "namespace": privateGitNamespace},
		"spec": map[string]any{
			"interval":        "1m",
			"path":            "./kustomizations/per-tenant",
			"prune":           true,
			"targetNamespace": privateGitNamespace,
			"sourceRef":       map[string]any{"kind": "GitRepository", "name": source},
		},
	}})
	e.waitKustomization(privateGitNamespace, "per-tenant", "True")
	e.mustGet(deploymentGVR, privateGitNamespace, "dummy")
}

// sshSecret is the Secret data Flux documents for SSH: the private key,
// its public half and the server's known_hosts.
func sshSecret(key gitauth.ClientKey, knownHosts []byte) map[string]string {
	return map[string]string{
		"identity":     string(key.PrivateKey),
		"identity.pub": string(key.AuthorizedKey),
		"known_hosts":  string(knownHosts),
	}
}

// createPrivateSource creates s's Secret and GitRepository with client-go.
func (e stepEnv) createPrivateSource(s privateSource) {
	e.t.Helper()
	spec := map[string]any{
		"url":      s.url,
		"interval": "1m",
		"ref":      map[string]any{"branch": "main"},
	}
	if s.secret != nil {
		stringData := map[string]any{}
		for k, v := range s.secret {
			stringData[k] = v
		}
		e.create(secretGVR, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1",
			"kind":       "Secret",
			"metadata":   map[string]any{"name": s.name, "namespace": privateGitNamespace},
			"stringData": stringData,
		}})
		spec["secretRef"] = map[string]any{"name": s.name}
	}
	e.create(gitRepositoryGVR, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1",
		"kind":       "GitRepository",
		"metadata":   map[string]any{"name": s.name, "namespace": privateGitNamespace},
		"spec":       spec,
	}})
}

func (e stepEnv) create(gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
	e.t.Helper()
	_, err := e.client.Resource(gvr).Namespace(obj.GetNamespace()).Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("creating %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
}

// checkPrivateSource waits for s's outcome: Ready, or not Ready with
// Flux's message containing s.wantMessage.
func (e stepEnv) checkPrivateSource(s privateSource) {
	e.t.Helper()
	if s.wantMessage == "" {
		e.waitGitRepositoryReady(privateGitNamespace, s.name)
		return
	}
	message := e.waitGitRepositoryFailed(privateGitNamespace, s.name)
	e.t.Logf("Flux's Ready message for %s: %q", s.name, message)
	if !strings.Contains(message, s.wantMessage) {
		e.t.Errorf("GitRepository %s: Ready message %q does not contain %q", s.name, message, s.wantMessage)
	}
}

// waitGitRepositoryFailed waits until the GitRepository's Ready condition
// is False for its current generation, that is until a fetch has failed
// rather than is still under way, and returns the condition's message.
func (e stepEnv) waitGitRepositoryFailed(namespace, name string) string {
	e.t.Helper()
	var message string
	e.eventually(fmt.Sprintf("GitRepository %s/%s Ready=False", namespace, name), reconcileDeadline, func() (bool, error) {
		repo, err := e.get(gitRepositoryGVR, namespace, name)
		if err != nil {
			return false, err
		}
		status, msg := readyCondition(repo)
		message = msg
		return status == "False" && readyObservedGeneration(repo) == repo.GetGeneration(), fmt.Errorf("Ready=%s: %s", status, msg)
	})
	return message
}

// readyObservedGeneration is the generation obj's Ready condition was set
// for, or -1 without one.
func readyObservedGeneration(obj *unstructured.Unstructured) int64 {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
			if generation, ok := m["observedGeneration"].(int64); ok {
				return generation
			}
		}
	}
	return -1
}
