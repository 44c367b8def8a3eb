package render

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// FleetSchemaID is where the fleet file's schema is published; a fleet
// file names it in a yaml-language-server comment so editors check the
// file as it is typed.
const FleetSchemaID = "https://raw.githubusercontent.com/kubectl-tenant/kubectl-tenant/main/pkg/render/schema/tenantfleet.schema.json"

// FleetSchema is the JSON Schema (draft 2020-12) of a fleet file, made
// from the Fleet type's fields and their tags (json, description, enum,
// minItems), so the schema cannot say other than what ParseFleet reads.
// A field without omitempty is required; no object takes fields it does
// not list. It is a hundred lines here rather than a dependency because
// the types use only strings, booleans, lists, maps and structs.
func FleetSchema() ([]byte, error) {
	g := schemaGenerator{enums: fleetEnums(), defs: map[string]any{}}
	root, err := g.object(reflect.TypeOf(Fleet{}))
	if err != nil {
		return nil, err
	}
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = FleetSchemaID
	root["title"] = FleetKind
	root["description"] = "Every tenant of a cluster and the settings they share, for kubectl tenant."
	root["$defs"] = g.defs
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// schemaGenerator holds what one FleetSchema call builds: the named enum
// lists the tags refer to, and the definitions of the struct types seen.
type schemaGenerator struct {
	enums map[string][]string
	defs  map[string]any
}

// schema describes a value of type t; a struct type is described once
// under $defs and referred to.
func (g schemaGenerator) schema(t reflect.Type) (map[string]any, error) {
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Slice:
		items, err := g.schema(t.Elem())
		return map[string]any{"type": "array", "items": items}, err
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("fleet schema: map key %s is not a string", t.Key())
		}
		values, err := g.schema(t.Elem())
		return map[string]any{"type": "object", "additionalProperties": values}, err
	case reflect.Struct:
		if _, seen := g.defs[t.Name()]; !seen {
			g.defs[t.Name()] = nil // stops a recursive type from looping
			def, err := g.object(t)
			if err != nil {
				return nil, err
			}
			g.defs[t.Name()] = def
		}
		return map[string]any{"$ref": "#/$defs/" + t.Name()}, nil
	}
	return nil, fmt.Errorf("fleet schema: no schema for %s", t)
}

// object describes a struct: its JSON fields, the required ones, and no
// others.
func (g schemaGenerator) object(t reflect.Type) (map[string]any, error) {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		prop, err := g.field(f)
		if err != nil {
			return nil, err
		}
		props[name] = prop
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if t.Name() != "" {
		out["title"] = t.Name()
	}
	if len(required) > 0 {
		out["required"] = required
	}
	return out, nil
}

// field describes one struct field with what its tags add.
func (g schemaGenerator) field(f reflect.StructField) (map[string]any, error) {
	s, err := g.schema(f.Type)
	if err != nil {
		return nil, err
	}
	if d := f.Tag.Get("description"); d != "" {
		s["description"] = d
	}
	if name := f.Tag.Get("enum"); name != "" {
		values, ok := g.enums[name]
		if !ok {
			return nil, fmt.Errorf("fleet schema: field %s names enum %q, which is not defined", f.Name, name)
		}
		s["enum"] = values
	}
	if n := f.Tag.Get("minItems"); n != "" {
		min, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("fleet schema: field %s: minItems %q is not a number", f.Name, n)
		}
		s["minItems"] = min
	}
	return s, nil
}
