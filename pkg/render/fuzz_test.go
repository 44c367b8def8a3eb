package render

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
)

// FuzzRenderTenant: any input either fails validation or renders objects
// whose names and labels the API server would accept, and that survive a
// YAML round trip unchanged.
func FuzzRenderTenant(f *testing.F) {
	f.Add("foo", "sometenant", "REGION", "eu-west-1", "GitRepository/default.flux-system", "cluster-admin", "./kustomizations/per-tenant")
	f.Add("a", "Some_Tenant.v2", "_X", `quotes "and" 'such'`, "Bucket/b", "system:aggregate-to-edit", "./a b/ü")
	f.Add("Foo", "${X}", "1X", "a\nb", "HelmRepository/x.y", "a/b", "a\tb")
	// A CI run found that YAML cannot carry DEL: keep it as a seed.
	f.Add("foo", "sometenant", "X", "a\x7f\u009f\ufffe", "GitRepository/default.flux-system", "cluster-admin", "./kustomizations/per-tenant")
	f.Fuzz(func(t *testing.T, namespace, name, varKey, varValue, source, clusterRole, path string) {
		o := DefaultTenantOptions()
		o.Namespace, o.Name, o.ClusterRole, o.Path = namespace, name, clusterRole, path
		o.Vars = map[string]string{varKey: varValue}
		ref, err := ParseSourceRef(source)
		if err != nil {
			return
		}
		o.Source = ref
		tenant, err := RenderTenant(o)
		if err != nil {
			return
		}
		objs, err := tenant.Unstructured()
		if err != nil {
			t.Fatalf("valid options failed to convert: %v", err)
		}
		checkSameAsConverter(t, tenant)
		for _, obj := range objs {
			if errs := validation.IsDNS1123Subdomain(obj.GetName()); len(errs) > 0 {
				t.Fatalf("%s name %q is invalid: %v", obj.GetKind(), obj.GetName(), errs)
			}
			for k, v := range obj.GetLabels() {
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					t.Fatalf("label key %q is invalid: %v", k, errs)
				}
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Fatalf("label %s=%q is invalid: %v", k, v, errs)
				}
			}
		}
		if errs := validation.IsConfigMapKey(varKey); len(errs) > 0 {
			t.Fatalf("accepted variable %q is not a valid ConfigMap key: %v", varKey, errs)
		}
		out, err := EncodeYAML(objs)
		if err != nil {
			t.Fatal(err)
		}
		checkSameBytesAsSigsYAML(t, objs)
		back, err := DecodeYAML(out)
		if err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, out)
		}
		again, err := EncodeYAML(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("YAML round trip changed the output:\n%s\n---- became ----\n%s", out, again)
		}
		if len(back) != len(objs) {
			t.Fatalf("round trip gave %d objects, want %d", len(back), len(objs))
		}
		for i := range objs {
			if !equality.Semantic.DeepEqual(back[i].GetLabels(), objs[i].GetLabels()) {
				t.Fatalf("labels changed in the round trip")
			}
		}
		checkFleetRoundTrip(t, o, out)
	})
}

// checkFleetRoundTrip: options that render are exported as a fleet file
// that reads back to the same render, rendered.
func checkFleetRoundTrip(t *testing.T, o TenantOptions, rendered []byte) {
	t.Helper()
	if gaps := ExportGaps([]TenantOptions{o}); len(gaps) > 0 {
		return // named to the user, so not a silent loss
	}
	data, err := FleetOf([]TenantOptions{o}).YAML()
	if err != nil {
		t.Fatalf("exporting %+v: %v", o, err)
	}
	f, err := ParseFleet("exported.yaml", data)
	if err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, data)
	}
	back, err := f.TenantOptions(DefaultTenantOptions())
	if err != nil {
		t.Fatalf("the export does not read back: %v\n%s", err, data)
	}
	tenant, err := RenderTenant(back[0])
	if err != nil {
		t.Fatalf("the export does not render: %v\n%s", err, data)
	}
	objs, err := tenant.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	again, err := EncodeYAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rendered, again) {
		t.Fatalf("the export renders differently:\n%s\n---- became ----\n%s\nfile:\n%s", rendered, again, data)
	}
}

// FuzzParseTenantList: any file either fails with an error or yields
// entries that add would accept.
func FuzzParseTenantList(f *testing.F) {
	f.Add([]byte("namespace,name\nfoo,sometenant\nbar,other,REGION=eu\n"))
	f.Add([]byte("- namespace: foo\n  name: a\n  vars: {X: y}\n"))
	f.Add([]byte(`[{"namespace":"foo","name":"a"}]`))
	f.Add([]byte("foo,\"a\nb\",X=1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseTenantList(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range entries {
			o := DefaultTenantOptions()
			o.Namespace, o.Name, o.Vars = e.Namespace, e.Name, e.Vars
			if _, err := RenderTenant(o); err != nil {
				t.Fatalf("parsed entry %+v does not render: %v", e, err)
			}
			if seen[e.Namespace] {
				t.Fatalf("namespace %q parsed twice", e.Namespace)
			}
			seen[e.Namespace] = true
		}
	})
}
