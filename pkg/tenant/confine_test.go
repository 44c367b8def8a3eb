package tenant

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// TestPruneKeepsReferencedSecret: a managed Secret that the render no
// longer holds is pruned, unless the rendered source reads it by
// secretRef, as it does once a fleet file (or --secret-ref) names the
// Secret add made from credential flags.
func TestPruneKeepsReferencedSecret(t *testing.T) {
	o := render.DefaultTenantOptions()
	o.Namespace, o.Name, o.ClusterRole = "creds", "creds", render.ConfinedClusterRole
	spec := render.GitSourceSpec("https://git.example.com/t.git", render.DefaultBranch, render.DefaultTenantSourceInterval, nil)
	spec["secretRef"] = map[string]any{"name": "default-auth"}
	o.Confinement = &render.Confinement{Source: render.TenantSource{Kind: "GitRepository", Name: "default", Spec: spec}}
	rendered, err := render.RenderTenant(o)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := rendered.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	secret := func(name string) ManagedObject {
		return ManagedObject{resource: SecretGVR, namespace: "creds", name: name}
	}
	if !keptByRender(objs, secret("default-auth")) {
		t.Error("the Secret the source reads would be pruned")
	}
	if keptByRender(objs, secret("old-auth")) {
		t.Error("a Secret nothing reads any more would be kept")
	}
	quota := ManagedObject{resource: ResourceQuotaGVR, namespace: "creds", name: render.QuotaName}
	if keptByRender(objs, quota) {
		t.Error("a quota the render left out would be kept")
	}
	// Without the reference, the Secret goes, as before.
	source := objs[len(objs)-2]
	if source.GetKind() != "GitRepository" {
		t.Fatalf("the object before the Kustomization is a %s, not the source", source.GetKind())
	}
	unstructured.RemoveNestedField(source.Object, "spec", "secretRef")
	if keptByRender(objs, secret("default-auth")) {
		t.Error("a Secret the source no longer reads would be kept")
	}
}
