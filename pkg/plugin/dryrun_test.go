package plugin

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"
)

// TestYAMLPrinterMatchesCLIRuntime: the direct encoder must print what
// cli-runtime's YAMLPrinter prints, for objects as the server returns them
// (integers, timestamps, managedFields, strings YAML would misread).
func TestYAMLPrinterMatchesCLIRuntime(t *testing.T) {
	const served = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: dummy
  namespace: foo
  generation: 3
  creationTimestamp: "2026-11-27T03:00:00Z"
  labels: {a: "true", b: "0755", c: "null", d: "1e3", e: "yes", f: "~", g: ""}
  managedFields:
  - manager: kubectl-tenant
    operation: Apply
    fieldsV1: {"f:spec": {"f:interval": {}}}
spec:
  interval: 5m
  prune: true
  timeout: 1.5
  numbers: {million: 1000000, negative: -2500000, big: 123456789012, tiny: 0.000001, huge: 1e21, zero: 0, list: [1000000, 2.5e7, 0.5]}
  postBuild: {substitute: {SUBST_LITERAL: "a: b # c", X: "multi\nline", Y: "tab\there", Z: "日本 👨‍👩‍👧"}}
  empty: {}
  list: []
status:
  conditions:
  - {type: Ready, status: "True", message: "Applied revision: main@sha1:abc", observedGeneration: 3}
`
	var objs []*unstructured.Unstructured
	for range 2 {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(served), &u.Object); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	var got, want bytes.Buffer
	ours := &printers.OmitManagedFieldsPrinter{Delegate: &yamlPrinter{}}
	theirs := &printers.OmitManagedFieldsPrinter{Delegate: &printers.YAMLPrinter{}}
	for _, obj := range objs {
		if err := ours.PrintObj(obj, &got); err != nil {
			t.Fatal(err)
		}
		if err := theirs.PrintObj(obj, &want); err != nil {
			t.Fatal(err)
		}
	}
	if got.String() != want.String() {
		t.Errorf("yamlPrinter printed\n%s\ncli-runtime's YAMLPrinter printed\n%s", got.String(), want.String())
	}
	if bytes.Contains(got.Bytes(), []byte("managedFields")) || bytes.Count(got.Bytes(), []byte("---\n")) != 1 {
		t.Errorf("want managedFields omitted and one separator:\n%s", got.String())
	}
	if err := (&yamlPrinter{}).PrintObj(&unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "x"}}}, &got); err == nil {
		t.Error("printed an object without apiVersion and kind")
	}
}
