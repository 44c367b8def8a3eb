package render

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/diff"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-tenant/kubectl-tenant/internal/golden"
)

func sampleOptions() TenantOptions {
	o := DefaultTenantOptions()
	o.Namespace = "foo"
	o.Name = "sometenant"
	return o
}

// confinedOptions are a confined tenant whose source comes from flags.
func confinedOptions() TenantOptions {
	o := sampleOptions()
	o.ClusterRole = ConfinedClusterRole
	o.Confinement = &Confinement{Source: TenantSource{
		Kind: "GitRepository",
		Name: "default",
		Spec: GitSourceSpec("https://example.com/platform/tenants.git", "main", DefaultTenantSourceInterval, DefaultIgnorePaths()),
	}}
	return o
}

// guardedOptions are a confined tenant with every guardrail and a copied
// source Secret.
func guardedOptions() TenantOptions {
	o := confinedOptions()
	c := o.Confinement
	c.Source.Spec["secretRef"] = map[string]any{"name": "git-credentials"}
	c.Source.Secrets = []SourceSecret{{Name: "git-credentials", Type: "Opaque", Data: map[string][]byte{"username": []byte("git"), "password": []byte("s3cret")}}}
	c.Quota = map[string]string{"pods": "20", "requests.cpu": "4", "count/kustomizations.kustomize.toolkit.fluxcd.io": "5"}
	c.Limits = map[string]ContainerDefault{"cpu": {Request: "100m", Limit: "500m"}, "memory": {Request: "128Mi"}}
	c.NetworkPolicy = NetworkPolicyIsolate
	return o
}

// teamOptions are one namespace of an unconfined team tenant with owners
// of two roles and an allow-list of sources.
func teamOptions() TenantOptions {
	o := sampleOptions()
	o.Owners = []Owner{
		{Kind: "User", Name: "alice@example.com", Role: "admin"},
		{Kind: "Group", Name: "payments", Role: "edit"},
		{Kind: "ServiceAccount", Name: "ci:deployer", Role: "edit"},
	}
	o.AllowedSources = []string{"https://github.com/acme/", "oci://ghcr.io/acme/"}
	return o
}

func renderYAML(t *testing.T, o TenantOptions) []byte {
	t.Helper()
	tenant, err := RenderTenant(o)
	if err != nil {
		t.Fatalf("RenderTenant: %v", err)
	}
	objs, err := tenant.Unstructured()
	if err != nil {
		t.Fatalf("Unstructured: %v", err)
	}
	out, err := EncodeYAML(objs)
	if err != nil {
		t.Fatalf("EncodeYAML: %v", err)
	}
	return out
}

func TestRenderTenantGolden(t *testing.T) {
	withVars := sampleOptions()
	withVars.Vars = map[string]string{"REGION": "eu-west-1", "TIER": "gold"}
	custom := sampleOptions()
	custom.LabelKey = "example.com/tenant"
	custom.ClusterRole = "admin"
	custom.KustomizationName = "apps"
	custom.Source = SourceRef{Kind: "OCIRepository", Name: "tenants", Namespace: "infra"}
	custom.Path = "./tenants/base"
	custom.Interval = time.Hour

	for name, o := range map[string]TenantOptions{
		"tenant-foo-sometenant.yaml": sampleOptions(),
		"tenant-vars.yaml":           withVars,
		"tenant-confined.yaml":       confinedOptions(),
		"tenant-guarded.yaml":        guardedOptions(),
		"tenant-custom.yaml":         custom,
		"tenant-team.yaml":           teamOptions(),
	} {
		t.Run(name, func(t *testing.T) {
			golden.Assert(t, name, renderYAML(t, o))
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	o := sampleOptions()
	o.Vars = map[string]string{"A": "1", "B": "2", "C": "3", "D": "4", "E": "5"}
	first := renderYAML(t, o)
	for i := 0; i < 20; i++ {
		if got := renderYAML(t, o); !bytes.Equal(got, first) {
			t.Fatalf("render %d differs from the first:\n%s", i, diff.Diff(string(first), string(got)))
		}
	}
}

// TestRenderMatchesSeedSampleManifests holds the render to the demo README's
// sample manifests. The differences below are deliberate, each for a reason;
// anything else that differs fails the test.
func TestRenderMatchesSeedSampleManifests(t *testing.T) {
	data, err := os.ReadFile("testdata/seed-sample-foo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The README writes the ServiceAccount and RoleBinding for a namespace
	// called "tenant-namespace"; for tenant foo they are named after foo.
	data = bytes.ReplaceAll(data, []byte("tenant-namespace"), []byte("foo"))
	seed, err := DecodeYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(seed) != 5 {
		t.Fatalf("seed sample has %d documents, want 5", len(seed))
	}
	for _, obj := range seed {
		switch obj.GetKind() {
		case "Namespace":
			// kubectl create namespace prints an empty spec; it means nothing
			// and server-side apply would own it.
			unstructured.RemoveNestedField(obj.Object, "spec")
			// ctrl.py labelled the namespace for flux's tenant model too.
			labels := obj.GetLabels()
			labels[FluxTenantLabelKey] = "foo"
			obj.SetLabels(labels)
		case "Kustomization":
			// v1beta2 is no longer served; v1 is the same schema here.
			if obj.GetAPIVersion() != "kustomize.toolkit.fluxcd.io/v1beta2" {
				t.Fatalf("seed Kustomization apiVersion = %s", obj.GetAPIVersion())
			}
			obj.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
			// force: false and optional: false are the API defaults, which
			// the v1 types omit.
			unstructured.RemoveNestedField(obj.Object, "spec", "force")
			refs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "postBuild", "substituteFrom")
			for _, r := range refs {
				delete(r.(map[string]any), "optional")
			}
			if err := unstructured.SetNestedSlice(obj.Object, refs, "spec", "postBuild", "substituteFrom"); err != nil {
				t.Fatal(err)
			}
		}
	}

	tenant, err := RenderTenant(sampleOptions())
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := tenant.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	if len(rendered) != len(seed) {
		t.Fatalf("rendered %d objects, seed has %d", len(rendered), len(seed))
	}
	for i := range seed {
		// Round-trip the render through YAML so both sides hold the same Go
		// types (int64 against float64 and the like).
		got, err := EncodeYAML(rendered[i : i+1])
		if err != nil {
			t.Fatal(err)
		}
		gotObjs, err := DecodeYAML(got)
		if err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(seed[i].Object, gotObjs[0].Object) {
			want, _ := EncodeYAML(seed[i : i+1])
			t.Errorf("object %d (%s) differs from the seed sample:\n%s", i, seed[i].GetKind(), diff.Diff(string(want), string(got)))
		}
	}
}

func TestConfinementLocksTheTenantIn(t *testing.T) {
	tenant, err := RenderTenant(guardedOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := tenant.Kustomization.Spec.ServiceAccountName; got != "foo" {
		t.Errorf("serviceAccountName = %q, want the tenant's ServiceAccount foo", got)
	}
	if ref := tenant.Kustomization.Spec.SourceRef; ref.Namespace != "" || ref.Kind != "GitRepository" || ref.Name != "default" {
		t.Errorf("sourceRef = %+v, want the tenant's own GitRepository default, in its namespace", ref)
	}
	objs, err := tenant.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, obj := range objs {
		kinds = append(kinds, obj.GetKind())
		if obj.GetLabels()[ManagedByLabelKey] != ManagedByValue {
			t.Errorf("%s %s lacks the label %s=%s the guardrail policy protects", obj.GetKind(), obj.GetName(), ManagedByLabelKey, ManagedByValue)
		}
		if ns := obj.GetNamespace(); obj.GetKind() != "Namespace" && ns != "foo" {
			t.Errorf("%s %s is in namespace %q, not the tenant's", obj.GetKind(), obj.GetName(), ns)
		}
	}
	want := "Namespace Secret ConfigMap ConfigMap ServiceAccount RoleBinding ResourceQuota LimitRange NetworkPolicy GitRepository Kustomization"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("apply order %s, want %s", got, want)
	}
	plain, err := RenderTenant(sampleOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.Kustomization.Spec.ServiceAccountName; got != "" {
		t.Errorf("serviceAccountName = %q without Confine, want empty (the demo's default mode)", got)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute:                 "5m",
		10 * time.Minute:                "10m",
		time.Hour:                       "1h",
		90 * time.Minute:                "1h30m",
		30 * time.Second:                "30s",
		time.Minute + 30*time.Second:    "1m30s",
		10*time.Hour + 10*time.Second:   "10h0m10s",
		1500 * time.Millisecond:         "1.5s",
		2*time.Hour + 20*time.Minute:    "2h20m",
		100*time.Hour + 0*time.Minute:   "100h",
		time.Hour + time.Minute:         "1h1m",
		20*time.Minute + 0*time.Second:  "20m",
		20*time.Minute + 10*time.Second: "20m10s",
	} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
		if parsed, err := time.ParseDuration(ShortDuration(d)); err != nil || parsed != d {
			t.Errorf("ShortDuration(%v) does not parse back: %v, %v", d, parsed, err)
		}
	}
}

func TestEncodeYAMLIsCleanForGit(t *testing.T) {
	out := string(renderYAML(t, sampleOptions()))
	for _, unwanted := range []string{"status:", "creationTimestamp", "spec: {}", "resourceVersion", "null"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("rendered YAML contains %q:\n%s", unwanted, out)
		}
	}
	if n := strings.Count(out, "\n---\n"); n != 4 {
		t.Errorf("want 4 document separators between 5 objects, got %d", n)
	}
	if strings.HasPrefix(out, "---") || strings.HasSuffix(out, "---\n") {
		t.Errorf("separators belong between documents only")
	}
}

// unstructuredByConverter is what Tenant.Unstructured stands in for: the
// typed objects through apimachinery's reflection converter.
func unstructuredByConverter(t *testing.T, tenant *Tenant) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	typed := []any{tenant.Kustomization, tenant.Namespace, tenant.ConfigMap, tenant.ServiceAccount, tenant.RoleBinding}
	for _, s := range tenant.Confined.SourceSecrets {
		typed = append(typed, s)
	}
	if c := tenant.Confined; c.Quota != nil {
		typed = append(typed, c.Quota, c.LimitRange, c.NetworkPolicy)
	}
	for _, obj := range typed {
		u, err := ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	if err := unstructured.SetNestedField(out[0].Object, ShortDuration(tenant.Kustomization.Spec.Interval.Duration), "spec", "interval"); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkSameAsConverter(t *testing.T, tenant *Tenant) {
	t.Helper()
	got, err := tenant.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range unstructuredByConverter(t, tenant) {
		i := slices.IndexFunc(got, func(u *unstructured.Unstructured) bool {
			return u.GetKind() == want.GetKind() && u.GetName() == want.GetName()
		})
		if i < 0 {
			t.Errorf("%s %s is missing", want.GetKind(), want.GetName())
			continue
		}
		if !equality.Semantic.DeepEqual(got[i].Object, want.Object) {
			t.Errorf("%s differs from the converter's:\n%s", want.GetKind(), diff.Diff(want.Object, got[i].Object))
		}
	}
}

func TestUnstructuredMatchesConverter(t *testing.T) {
	for name, mutate := range map[string]func(*TenantOptions){
		"defaults":     func(*TenantOptions) {},
		"confined":     func(o *TenantOptions) { *o = guardedOptions() },
		"vars":         func(o *TenantOptions) { o.Vars = map[string]string{"A": "1", "B": ""} },
		"local source": func(o *TenantOptions) { o.Source = SourceRef{Kind: "OCIRepository", Name: "tpl"} },
		"everything else": func(o *TenantOptions) {
			o.ClusterRole, o.KustomizationName, o.Path, o.Interval = "edit", "apps", "./x", 90*time.Minute
		},
	} {
		t.Run(name, func(t *testing.T) {
			o := sampleOptions()
			mutate(&o)
			tenant, err := RenderTenant(o)
			if err != nil {
				t.Fatal(err)
			}
			checkSameAsConverter(t, tenant)
		})
	}
}

// TestUnstructuredSeesOptionalFields covers typed fields RenderTenant never
// sets today, so that a future option cannot silently be dropped.
func TestUnstructuredSeesOptionalFields(t *testing.T) {
	tenant, err := RenderTenant(sampleOptions())
	if err != nil {
		t.Fatal(err)
	}
	tenant.Kustomization.Spec.PostBuild.SubstituteFrom[0].Optional = true
	tenant.Kustomization.Spec.TargetNamespace = ""
	tenant.ConfigMap.Data = nil
	checkSameAsConverter(t, tenant)
}

// TestMarshalYAMLPrintsWholeNumbersAsJSONDoes: numbers decoded into maps
// are float64, and the YAML encoder alone would print 1000000 as 1e+06.
func TestMarshalYAMLPrintsWholeNumbersAsJSONDoes(t *testing.T) {
	nested := map[string]any{"max": float64(1000000)}
	list := []any{float64(2.5e7), "x"}
	object := map[string]any{"a": nested, "b": list, "c": 0.5, "d": float64(-3)}
	out, err := MarshalYAML(object)
	if err != nil {
		t.Fatal(err)
	}
	want := "a:\n  max: 1000000\nb:\n- 25000000\n- x\nc: 0.5\nd: -3\n"
	if string(out) != want {
		t.Errorf("MarshalYAML =\n%s\nwant\n%s", out, want)
	}
	if nested["max"] != float64(1000000) || list[0] != float64(2.5e7) {
		t.Errorf("MarshalYAML changed its input: %v %v", nested, list)
	}
}

// checkSameBytesAsSigsYAML: MarshalYAML must print each object exactly as
// sigs.k8s.io/yaml, and so kubectl, prints it.
func checkSameBytesAsSigsYAML(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, obj := range objs {
		direct, err := MarshalYAML(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		viaJSON, err := yaml.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(direct, viaJSON) {
			t.Errorf("%s %s prints differently from sigs.k8s.io/yaml:\n%s", obj.GetKind(), obj.GetName(), diff.Diff(string(viaJSON), string(direct)))
		}
	}
}

// TestCatalogueHoldsEveryKind: the catalogue renders, and holds every kind
// a confined tenant with every guardrail and copied credentials holds.
func TestCatalogueHoldsEveryKind(t *testing.T) {
	var kinds []string
	for _, obj := range Catalogue() {
		kinds = append(kinds, obj.GetKind()+"/"+obj.GetName())
	}
	want := []string{"Namespace/catalogue", "Secret/catalogue-credentials", "ConfigMap/tenant-vars", "ConfigMap/tenant-policy", "ServiceAccount/catalogue",
		"RoleBinding/catalogue-reconciler", "RoleBinding/tenant-owners-admin", "RoleBinding/tenant-owners-edit", "RoleBinding/tenant-owners-view", "ResourceQuota/tenant-quota", "LimitRange/tenant-limits", "NetworkPolicy/tenant-isolation",
		"GitRepository/catalogue-source", "Kustomization/dummy"}
	if !slices.Equal(kinds, want) {
		t.Errorf("catalogue = %v, want %v", kinds, want)
	}
}
