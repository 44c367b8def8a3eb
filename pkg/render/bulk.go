package render

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// TenantEntry is one line of a bulk tenant file.
type TenantEntry struct {
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Vars      map[string]string `json:"vars,omitempty"`
}

// ParseTenantList reads the file of `kubectl tenant add -f`. Two forms:
//
// CSV, one tenant a line, with optional KEY=VALUE variables after the name;
// blank lines and lines starting with # are skipped, and a first line
// "namespace,name" is taken as a header:
//
//	namespace,name
//	foo,sometenant
//	bar,othertenant,REGION=eu-west-1
//
// YAML (or JSON), a list of entries:
//
//   - namespace: foo
//     name: sometenant
//     vars: {REGION: eu-west-1}
//
// Each value is checked as add checks it, and a namespace may appear once.
// Errors name the line or entry.
func ParseTenantList(data []byte) ([]TenantEntry, error) {
	trimmed := bytes.TrimSpace(data)
	var entries []TenantEntry
	var err error
	if len(trimmed) > 0 && (trimmed[0] == '-' || trimmed[0] == '[') {
		entries, err = parseYAMLTenantList(trimmed)
	} else {
		entries, err = parseCSVTenantList(data)
	}
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("the tenant file lists no tenants")
	}
	seen := make(map[string]int, len(entries))
	for i, e := range entries {
		where := fmt.Sprintf("tenant %d (%s)", i+1, e.Namespace)
		if err := ValidateNamespaceName(e.Namespace); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if err := ValidateTenantName(e.Name); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, k := range SortedKeys(e.Vars) {
			if err := validateVar(k, e.Vars[k]); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		if first, dup := seen[e.Namespace]; dup {
			return nil, fmt.Errorf("%s: namespace %q is listed twice (first as tenant %d)", where, e.Namespace, first)
		}
		seen[e.Namespace] = i + 1
	}
	return entries, nil
}

func parseYAMLTenantList(data []byte) ([]TenantEntry, error) {
	var entries []TenantEntry
	if err := yaml.UnmarshalStrict(data, &entries); err != nil {
		return nil, fmt.Errorf("reading the tenant file as a YAML list of {namespace, name, vars}: %w", err)
	}
	return entries, nil
}

func parseCSVTenantList(data []byte) ([]TenantEntry, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var entries []TenantEntry
	for first := true; ; first = false {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tenant file as CSV: %w", err)
		}
		line, _ := r.FieldPos(0)
		if first && len(record) >= 2 && strings.EqualFold(record[0], "namespace") && strings.EqualFold(record[1], "name") {
			continue
		}
		if len(record) < 2 {
			return nil, fmt.Errorf("line %d: want namespace,name[,KEY=VALUE...], got %q", line, strings.Join(record, ","))
		}
		e := TenantEntry{Namespace: strings.TrimSpace(record[0]), Name: strings.TrimSpace(record[1])}
		for _, kv := range record[2:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: variable %q must be KEY=VALUE", line, kv)
			}
			if e.Vars == nil {
				e.Vars = map[string]string{}
			}
			if _, dup := e.Vars[k]; dup {
				return nil, fmt.Errorf("line %d: variable %s is given twice", line, k)
			}
			e.Vars[k] = v
		}
		entries = append(entries, e)
	}
}
