package render

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// TenantEntry is one line of a bulk tenant file.
type TenantEntry struct {
	Namespace string            `json:"namespace,omitempty"`
	Name      string            `json:"name"`
	Vars      map[string]string `json:"vars,omitempty"`
	// Namespaces are a team tenant's namespaces, instead of Namespace.
	Namespaces []NamespaceEntry `json:"namespaces,omitempty"`
	// Owners are KIND:NAME[=ROLE], as --owner takes them.
	Owners []string `json:"owners,omitempty"`
	// AllowedSources are URL prefixes, as --allow-source takes them.
	AllowedSources []string `json:"allowedSources,omitempty"`
	// GitURL is a confined tenant's own source, as --git-url.
	GitURL string `json:"gitURL,omitempty"`
	// Credentials name where the credentials for GitURL are (files,
	// environment variables, a Secret), as the credential flags do; the
	// reader of the file decodes them.
	Credentials json.RawMessage `json:"credentials,omitempty"`
}

// NamespaceEntry is one namespace of a team tenant, with the variables
// and path of that namespace alone. In YAML it is a name, or a map.
type NamespaceEntry struct {
	Name string            `json:"name"`
	Vars map[string]string `json:"vars,omitempty"`
	Path string            `json:"path,omitempty"`
}

// UnmarshalJSON takes a bare namespace name as well as the map.
func (n *NamespaceEntry) UnmarshalJSON(data []byte) error {
	var name string
	if err := json.Unmarshal(data, &name); err == nil {
		*n = NamespaceEntry{Name: name}
		return nil
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		// YAML reads an unquoted y, no or 1 as a boolean or a number.
		return fmt.Errorf("namespace %s is not a name or {name, vars, path}: quote it", trimmed)
	}
	type plain NamespaceEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(n))
}

// NamespaceEntries are the entry's namespaces: Namespaces, or Namespace
// alone.
func (e TenantEntry) NamespaceEntries() []NamespaceEntry {
	if len(e.Namespaces) > 0 {
		return e.Namespaces
	}
	return []NamespaceEntry{{Name: e.Namespace, Vars: e.Vars}}
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
		if err := validateEntry(e, i+1, seen); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// validateEntry checks one entry of the file; seen holds the tenant number
// of each namespace listed so far.
func validateEntry(e TenantEntry, number int, seen map[string]int) error {
	where := fmt.Sprintf("tenant %d (%s)", number, e.Namespace)
	if len(e.Namespaces) > 0 {
		where = fmt.Sprintf("tenant %d (%s)", number, e.Name)
		if e.Namespace != "" || len(e.Vars) > 0 {
			return fmt.Errorf("%s: give either namespace (with vars) or namespaces (each with its own vars), not both", where)
		}
	}
	if err := ValidateTenantName(e.Name); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	for _, ns := range e.NamespaceEntries() {
		if err := ValidateNamespaceName(ns.Name); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		for _, k := range SortedKeys(ns.Vars) {
			if err := validateVar(k, ns.Vars[k]); err != nil {
				return fmt.Errorf("%s: namespace %s: %w", where, ns.Name, err)
			}
		}
		if first, dup := seen[ns.Name]; dup {
			return fmt.Errorf("%s: namespace %q is listed twice (first as tenant %d)", where, ns.Name, first)
		}
		seen[ns.Name] = number
	}
	for _, owner := range e.Owners {
		if _, err := ParseOwner(owner); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	for _, prefix := range e.AllowedSources {
		if err := ValidateAllowedSource(prefix); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

func parseYAMLTenantList(data []byte) ([]TenantEntry, error) {
	var entries []TenantEntry
	if err := yaml.UnmarshalStrict(data, &entries); err != nil {
		return nil, fmt.Errorf("reading the tenant file as a YAML list of {namespace, name, vars} or {name, namespaces, owners, allowedSources}: %w", err)
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
