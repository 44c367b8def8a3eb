package localcluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-tenant/kubectl-tenant/internal/crdwait"
	"github.com/kubectl-tenant/kubectl-tenant/internal/localcluster"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

var (
	crdGVR            = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	namespaceGVR      = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gitRepositoryGVR  = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustomizationGVR  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	fluxManifestFiles = []string{"source-controller.yaml", "kustomize-controller.yaml"}
)

// TestFluxReconcilesKustomization runs the Flux controllers against the local cluster:
// a Kustomization applies a ConfigMap from the served git repository, and a new commit
// is rolled out.
func TestFluxReconcilesKustomization(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "demo", "kustomization.yaml"), "resources:\n- configmap.yaml\n")
	writeFile(t, filepath.Join(src, "demo", "configmap.yaml"), configMap("v1"))
	c := startCluster(t, localcluster.Options{ControllerManager: true, Flux: true, GitRepoDir: src, GitRepoSubdir: "kustomizations"})
	ctx := t.Context()
	cfg := c.RESTConfig()
	dyn := dynamic.NewForConfigOrDie(cfg)

	// The controllers are already running (and crash-looping under supervision); the
	// CRDs are what the plugin's bootstrap command would install.
	start := time.Now()
	if err := applyFluxCRDs(ctx, dyn); err != nil {
		t.Fatal(err)
	}

	gitRepo := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1",
		"kind":       "GitRepository",
		"metadata":   map[string]any{"name": "demo", "namespace": localcluster.FluxNamespace},
		"spec": map[string]any{
			"url":      c.GitURL(),
			"interval": "2s",
			"ref":      map[string]any{"branch": "main"},
		},
	}}
	kustomization := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata":   map[string]any{"name": "demo", "namespace": localcluster.FluxNamespace},
		"spec": map[string]any{
			"interval":  "2s",
			"path":      "./kustomizations/demo",
			"prune":     true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "demo"},
		},
	}}
	if _, err := dyn.Resource(gitRepositoryGVR).Namespace(localcluster.FluxNamespace).Create(ctx, gitRepo, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(kustomizationGVR).Namespace(localcluster.FluxNamespace).Create(ctx, kustomization, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	client := kubernetes.NewForConfigOrDie(cfg)
	waitForConfigMapVersion(t, client, "v1")
	waitForReady(t, dyn, kustomizationGVR, "demo")
	t.Logf("Kustomization ready %s after installing the CRDs", time.Since(start).Round(time.Millisecond))

	rev, err := c.GitCommit(map[string][]byte{"kustomizations/demo/configmap.yaml": []byte(configMap("v2"))}, "bump to v2")
	if err != nil {
		t.Fatal(err)
	}
	waitForConfigMapVersion(t, client, "v2")
	t.Logf("commit %s rolled out", rev)
}

func configMap(version string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n  namespace: default\ndata:\n  version: %q\n", version)
}

func waitForConfigMapVersion(t *testing.T, client kubernetes.Interface, version string) {
	t.Helper()
	var last *corev1.ConfigMap
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		cm, err := client.CoreV1().ConfigMaps("default").Get(ctx, "demo", metav1.GetOptions{})
		if err != nil {
			return false, ignoreNotFound(err)
		}
		last = cm
		return cm.Data["version"] == version, nil
	})
	if err != nil {
		t.Fatalf("waiting for ConfigMap default/demo version %s (last: %v): %v", version, last, err)
	}
}

// waitForReady waits until a Flux object has the condition Ready=True.
func waitForReady(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, name string) {
	t.Helper()
	var conditions []any
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		obj, err := dyn.Resource(gvr).Namespace(localcluster.FluxNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conditions, _, _ = unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, cond := range conditions {
			if m, ok := cond.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s %s to be Ready (conditions: %v): %v", gvr.Resource, name, conditions, err)
	}
}

// applyFluxCRDs creates the CustomResourceDefinitions (and Namespace, if any) of the
// Flux manifests bundle plus the flux-system namespace, and waits until the CRDs are
// established.
func applyFluxCRDs(ctx context.Context, dyn dynamic.Interface) error {
	root, err := localcluster.ModuleRoot()
	if err != nil {
		return err
	}
	var crdNames []string
	for _, file := range fluxManifestFiles {
		path := filepath.Join(root, "_output", "flux-manifests", render.DefaultFluxVersion, file)
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%w (run hack/build-tools.sh)", err)
		}
		docs, err := decodeYAMLDocuments(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, obj := range docs {
			var gvr schema.GroupVersionResource
			switch obj.GetKind() {
			case "CustomResourceDefinition":
				gvr = crdGVR
				crdNames = append(crdNames, obj.GetName())
			case "Namespace":
				gvr = namespaceGVR
			default:
				continue
			}
			_, err := dyn.Resource(gvr).Create(ctx, obj, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
		}
	}
	if len(crdNames) == 0 {
		return errors.New("no CustomResourceDefinitions in the Flux manifests")
	}
	// The per-controller manifests of the bundle do not contain the namespace.
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata":   map[string]any{"name": localcluster.FluxNamespace},
	}}
	if _, err := dyn.Resource(namespaceGVR).Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", localcluster.FluxNamespace, err)
	}
	return crdwait.WaitEstablished(ctx, dyn, crdNames, 30*time.Second)
}

func decodeYAMLDocuments(data []byte) ([]*unstructured.Unstructured, error) {
	decoder := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := decoder.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(obj) == 0 {
			continue // empty document
		}
		objs = append(objs, &unstructured.Unstructured{Object: obj})
	}
}
