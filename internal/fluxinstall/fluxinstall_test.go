package fluxinstall

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

var update = flag.Bool("update", false, "rewrite pkg/render's Flux install fixtures from the generator")

// fixtureHeader marks the fixtures as generated, and says how.
const fixtureHeader = `# Flux's install manifests as internal/fluxinstall generates them from the
# release bundle, with the CRDs' schemas cut to their top-level description to
# keep the file small. Regenerate: go test ./internal/fluxinstall -update
`

// manifestsDir is the release bundle that hack/build-tools.sh unpacks.
func manifestsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FLUX_MANIFESTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "_output", "flux-manifests", render.DefaultFluxVersion)
	}
	if _, err := os.Stat(filepath.Join(dir, "kustomize-controller.yaml")); err != nil {
		t.Fatalf("Flux's release manifests are missing at %s: run make tools first", dir)
	}
	return dir
}

// TestRenderFixturesAreGenerated keeps pkg/render's fixtures equal to what
// bootstrap generates, so that render's unit tests, which read them with
// no network and no build step, test what users install.
func TestRenderFixturesAreGenerated(t *testing.T) {
	dir := manifestsDir(t)
	for file, components := range map[string][]string{
		"flux-install.yaml":     render.DefaultComponents(),
		"flux-install-all.yaml": render.KnownComponents(),
	} {
		t.Run(file, func(t *testing.T) {
			o := render.DefaultBootstrapOptions()
			o.Components = components
			generated, err := Generate(o.InstallOptions(), dir)
			if err != nil {
				t.Fatal(err)
			}
			fixture, err := trimSchemas(generated)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "..", "pkg", "render", "testdata", file)
			if *update {
				if err := os.WriteFile(path, fixture, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			committed, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/fluxinstall -update)", err)
			}
			if !bytes.Equal(committed, fixture) {
				t.Errorf("%s differs from the generator's output: run go test ./internal/fluxinstall -update and review the diff", path)
			}
		})
	}
}

// TestMarshalYAMLMatchesSigsYAMLOnFlux: on Flux's whole install manifests
// (CRDs with long schema descriptions, numbers, quoted strings), render's
// direct encoder prints exactly what sigs.k8s.io/yaml, and so kubectl,
// prints. pkg/render runs the same check on its trimmed fixture.
func TestMarshalYAMLMatchesSigsYAMLOnFlux(t *testing.T) {
	o := render.DefaultBootstrapOptions()
	o.Components = render.KnownComponents()
	generated, err := Generate(o.InstallOptions(), manifestsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.DecodeYAML(generated)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) < 40 {
		t.Fatalf("only %d objects in Flux's install manifests", len(objs))
	}
	for _, obj := range objs {
		direct, err := render.MarshalYAML(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		viaJSON, err := yaml.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(direct, viaJSON) {
			t.Errorf("%s %s prints differently from sigs.k8s.io/yaml", obj.GetKind(), obj.GetName())
		}
	}
}

func TestCheckDir(t *testing.T) {
	dir := manifestsDir(t)
	if err := CheckDir(dir, render.KnownComponents()); err != nil {
		t.Errorf("the release bundle was refused: %v", err)
	}
	if err := CheckDir(t.TempDir(), []string{"helm-controller"}); err == nil {
		t.Error("an empty directory was accepted")
	}
	if err := CheckDir(filepath.Join(dir, "kustomize-controller.yaml"), nil); err == nil {
		t.Error("a file was accepted as the directory")
	}
}

// trimSchemas replaces every CRD version's schema by an open one carrying
// the original top-level description.
func trimSchemas(manifests []byte) ([]byte, error) {
	objs, err := render.DecodeYAML(manifests)
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		versions, _, _ := unstructured.NestedSlice(obj.Object, "spec", "versions")
		for _, v := range versions {
			version := v.(map[string]any)
			description, _, _ := unstructured.NestedString(version, "schema", "openAPIV3Schema", "description")
			version["schema"] = map[string]any{"openAPIV3Schema": map[string]any{
				"type":                                 "object",
				"description":                          description,
				"x-kubernetes-preserve-unknown-fields": true,
			}}
		}
		if err := unstructured.SetNestedSlice(obj.Object, versions, "spec", "versions"); err != nil {
			return nil, err
		}
	}
	out, err := render.EncodeYAML(objs)
	if err != nil {
		return nil, err
	}
	return append([]byte(fixtureHeader+"---\n"), out...), nil
}
