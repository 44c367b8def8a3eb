package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"k8s.io/apimachinery/pkg/util/diff"
)

const fleetSchemaPath = "schema/tenantfleet.schema.json"

// TestFleetSchemaIsCurrent fails when the committed schema is not what
// the Go types make, which is how CI keeps the published one current.
// With -update (the flag internal/golden defines) it rewrites the file.
func TestFleetSchemaIsCurrent(t *testing.T) {
	got, err := FleetSchema()
	if err != nil {
		t.Fatal(err)
	}
	if update := flag.Lookup("update"); update != nil && update.Value.String() == "true" {
		if err := os.WriteFile(fleetSchemaPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(fleetSchemaPath)
	if err != nil {
		t.Fatalf("reading the schema (run the test with -update to write it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from FleetSchema() (run go test ./pkg/render -run FleetSchema -update):\n%s", fleetSchemaPath, diff.Diff(string(want), string(got)))
	}
}

// TestFleetExampleMatchesSchema checks the example against the committed
// schema, with a validator of just the keywords the generator writes, so
// the schema is checked by something other than the code that made it.
func TestFleetExampleMatchesSchema(t *testing.T) {
	schema := readJSON(t, fleetSchemaPath)
	example, err := os.ReadFile("testdata/fleet-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := yamlToAny(t, example)
	if err := checkSchema(schema, schema, doc, ""); err != nil {
		t.Errorf("the example does not match the schema: %v", err)
	}
	bad := map[string]string{
		"unknown field":  fleetHead + "tenants: [{name: a, namespaces: [{name: a}], varz: {}}]",
		"literal secret": fleetHead + "tenants: [{name: a, namespaces: [{name: a}], confinement: {credentials: {password: x}}}]",
		"owner role":     fleetHead + "tenants: [{name: a, namespaces: [{name: a}], owners: [{kind: User, name: b, role: root}]}]",
		"version":        "apiVersion: kubectl-tenant.io/v2\nkind: TenantFleet\ntenants: [{name: a, namespaces: [{name: a}]}]",
		"no tenants":     fleetHead + "tenants: []",
	}
	for name, file := range bad {
		if err := checkSchema(schema, schema, yamlToAny(t, []byte(file)), ""); err == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}

func readJSON(t *testing.T, path string) map[string]any {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func yamlToAny(t *testing.T, data []byte) any {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkSchema checks doc against s: $ref, type, enum, required,
// properties, additionalProperties, items and minItems.
func checkSchema(root, s map[string]any, doc any, path string) error {
	if ref, ok := s["$ref"].(string); ok {
		def := root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		return checkSchema(root, def, doc, path)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, doc) {
		return fmt.Errorf("%s: %v is not one of %v", path, doc, enum)
	}
	switch s["type"] {
	case "string":
		if _, ok := doc.(string); !ok {
			return fmt.Errorf("%s: not a string", path)
		}
	case "boolean":
		if _, ok := doc.(bool); !ok {
			return fmt.Errorf("%s: not a boolean", path)
		}
	case "array":
		list, ok := doc.([]any)
		if !ok {
			return fmt.Errorf("%s: not an array", path)
		}
		if min, ok := s["minItems"].(float64); ok && len(list) < int(min) {
			return fmt.Errorf("%s: fewer than %v items", path, min)
		}
		for i, item := range list {
			if err := checkSchema(root, s["items"].(map[string]any), item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "object":
		return checkObject(root, s, doc, path)
	}
	return nil
}

func checkObject(root, s map[string]any, doc any, path string) error {
	obj, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: not an object", path)
	}
	required, _ := s["required"].([]any)
	for _, r := range required {
		if _, ok := obj[r.(string)]; !ok {
			return fmt.Errorf("%s: %s is required", path, r)
		}
	}
	props, _ := s["properties"].(map[string]any)
	for _, k := range SortedKeys(obj) {
		sub, ok := props[k].(map[string]any)
		if !ok {
			sub, ok = s["additionalProperties"].(map[string]any)
		}
		if !ok {
			return fmt.Errorf("%s.%s: not allowed", path, k)
		}
		if err := checkSchema(root, sub, obj[k], path+"."+k); err != nil {
			return err
		}
	}
	return nil
}
