package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// The version and kind of a fleet file. A file of another version is
// refused rather than guessed at, so the format can change under a new
// version without old files being misread.
const (
	FleetAPIVersion = "kubectl-tenant.io/v1alpha1"
	FleetKind       = "TenantFleet"
)

// Fleet is a fleet file: every tenant of a cluster and the settings they
// share. The struct tags feed FleetSchema, so the published JSON Schema
// says what this type accepts.
type Fleet struct {
	APIVersion string       `json:"apiVersion" description:"The fleet file's schema version." enum:"apiVersions"`
	Kind       string       `json:"kind" description:"Always TenantFleet." enum:"kinds"`
	Defaults   TenantSpec   `json:"defaults,omitempty" description:"Settings every tenant gets unless it sets its own: maps (vars, quota, limitRange) are merged key by key, lists (owners, allowedSources) and single values are replaced."`
	Tenants    []TenantSpec `json:"tenants" minItems:"1" description:"The tenants, each with a unique name and namespaces no other tenant lists."`

	// file names the file in every error, so a message found in a CI log
	// points at the file that caused it.
	file string
}

// TenantSpec is one tenant of a fleet file, or the fleet's defaults. An
// empty field inherits the default.
type TenantSpec struct {
	Name              string            `json:"name,omitempty" description:"The tenant's name, stored as a label value (required for a tenant, not allowed in defaults)."`
	Namespaces        []FleetNamespace  `json:"namespaces,omitempty" description:"The tenant's namespaces, one or more (not allowed in defaults)."`
	Vars              map[string]string `json:"vars,omitempty" description:"Post-build substitution variables for every namespace of the tenant."`
	Owners            []FleetOwner      `json:"owners,omitempty" description:"The team's people and robots, bound to their role in every namespace."`
	AllowedSources    []string          `json:"allowedSources,omitempty" description:"URL prefixes the tenant's sources may fetch from."`
	Source            string            `json:"source,omitempty" description:"The shared Flux source, <kind>/<name>.<namespace>, as --source takes it."`
	Path              string            `json:"path,omitempty" description:"The path inside the source to the per-tenant template."`
	Interval          string            `json:"interval,omitempty" description:"The Kustomization's reconcile interval, a Go duration such as 5m."`
	ClusterRole       string            `json:"clusterRole,omitempty" description:"The ClusterRole bound to the tenant's reconciler (admin when confined, else cluster-admin)."`
	KustomizationName string            `json:"kustomizationName,omitempty" description:"The name of the Flux Kustomization in each namespace."`
	Confinement       *FleetConfinement `json:"confinement,omitempty" description:"Locks the tenant in, as add --confine does."`
}

// FleetNamespace is one namespace of a tenant, with what only it has.
type FleetNamespace struct {
	Name string            `json:"name" description:"The namespace, a DNS-1123 label."`
	Vars map[string]string `json:"vars,omitempty" description:"Variables of this namespace alone, over the tenant's."`
	Path string            `json:"path,omitempty" description:"The template path of this namespace alone."`
}

// FleetOwner is an owner as the file writes it, a map rather than --owner's
// KIND:NAME=ROLE, so that a schema can check each part.
type FleetOwner struct {
	Kind string `json:"kind" description:"The subject's kind." enum:"ownerKinds"`
	Name string `json:"name" description:"The user or group name; a ServiceAccount's is NAMESPACE:NAME."`
	Role string `json:"role,omitempty" description:"The owner's role in each namespace (default edit)." enum:"ownerRoles"`
}

// FleetConfinement is add --confine's settings.
type FleetConfinement struct {
	GitURL         string                `json:"gitURL,omitempty" description:"The git repository of the tenant's own source; without it the shared source's spec is copied from the cluster."`
	Branch         string                `json:"branch,omitempty" description:"The branch of gitURL (default main)."`
	SourceInterval string                `json:"sourceInterval,omitempty" description:"How often the tenant's own source fetches, a Go duration (default 10m)."`
	Credentials    *CredentialRefs       `json:"credentials,omitempty" description:"Where gitURL's credentials are: files, environment variables or a Secret, never the secret itself."`
	Quota          map[string]string     `json:"quota,omitempty" description:"ResourceQuota limits, RESOURCE: QUANTITY."`
	LimitRange     map[string]FleetLimit `json:"limitRange,omitempty" description:"Default container requests and limits by resource name."`
	NetworkPolicy  string                `json:"networkPolicy,omitempty" description:"isolate, or none to override a default of isolate." enum:"networkPolicies"`
}

// FleetLimit is a LimitRange's default for one resource.
type FleetLimit struct {
	Request string `json:"request" description:"The default request, a quantity."`
	Limit   string `json:"limit,omitempty" description:"The default limit, a quantity."`
}

// NetworkPolicyNone lets a tenant turn off a default network policy.
const NetworkPolicyNone = "none"

// CredentialRefs say where a tenant source's credentials are. They mirror
// the reference fields of the credential flags; reading the files and
// variables is the caller's business, so rendering stays pure and a fleet
// file never holds a secret.
type CredentialRefs struct {
	SecretRef               string `json:"secretRef,omitempty" description:"An existing Secret in the tenant's namespace that holds the credentials; nothing else with it."`
	PrivateKeyFile          string `json:"privateKeyFile,omitempty" description:"A file holding an SSH private key."`
	SSHKeyAlgorithm         string `json:"sshKeyAlgorithm,omitempty" description:"The algorithm of a generated SSH key." enum:"sshKeyAlgorithms"`
	KnownHostsFile          string `json:"knownHostsFile,omitempty" description:"A file of known_hosts lines for the git server."`
	Username                string `json:"username,omitempty" description:"The HTTPS user name."`
	PasswordFile            string `json:"passwordFile,omitempty" description:"A file holding the HTTPS password or token."`
	PasswordEnv             string `json:"passwordEnv,omitempty" description:"An environment variable holding the HTTPS password or token."`
	BearerTokenFile         string `json:"bearerTokenFile,omitempty" description:"A file holding a bearer token."`
	BearerTokenEnv          string `json:"bearerTokenEnv,omitempty" description:"An environment variable holding a bearer token."`
	CAFile                  string `json:"caFile,omitempty" description:"A PEM file of the CA that signs the git server's certificate."`
	GitHubAppID             string `json:"githubAppID,omitempty" description:"A GitHub App's ID."`
	GitHubAppInstallationID string `json:"githubAppInstallationID,omitempty" description:"The GitHub App's installation ID."`
	GitHubAppPrivateKeyFile string `json:"githubAppPrivateKeyFile,omitempty" description:"A file holding the GitHub App's private key."`
	GitHubAppBaseURL        string `json:"githubAppBaseURL,omitempty" description:"GitHub Enterprise's API URL."`
	AllowInsecureHTTP       bool   `json:"allowInsecureHTTP,omitempty" description:"Send credentials over plain http://, for a git server on a trusted network."`
}

// fleetEnums are the lists the enum tags name, from the functions that
// the validators use, so the schema and the code cannot disagree.
func fleetEnums() map[string][]string {
	return map[string][]string{
		"apiVersions":      {FleetAPIVersion},
		"kinds":            {FleetKind},
		"ownerKinds":       OwnerKinds(),
		"ownerRoles":       OwnerRoles(),
		"networkPolicies":  {NetworkPolicyIsolate, NetworkPolicyNone},
		"sshKeyAlgorithms": {"ed25519", "ecdsa", "rsa"},
	}
}

// secretFieldNames are fields people write when they mean to give a
// secret's value; the file takes references only, and says so.
func secretFieldNames() []string {
	return []string{"password", "token", "bearertoken", "privatekey", "identity", "secret", "apikey", "githubappprivatekey"}
}

// FleetError is one line naming the file, the tenant and the field.
type FleetError struct {
	File, Tenant, Field string
	Err                 error
}

func (e *FleetError) Error() string {
	parts := []string{e.File}
	for _, p := range []string{e.Tenant, e.Field} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	// A value quoted nowhere else must still not break the line.
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(strings.Join(parts, ": ") + ": " + e.Err.Error())
}

func (e *FleetError) Unwrap() error { return e.Err }

// ParseFleet reads a fleet file named name (for messages). It checks the
// shape: version and kind, no unknown field, no literal secret, each
// tenant named once and each namespace listed once in the whole file.
// Values are checked by TenantOptions.
func ParseFleet(name string, data []byte) (*Fleet, error) {
	fail := func(tenant, field string, err error) error {
		return &FleetError{File: name, Tenant: tenant, Field: field, Err: err}
	}
	// Strict YAML refuses duplicate keys, which a plain decode would
	// silently resolve to the last one.
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fail("", "", fmt.Errorf("not YAML: %s", oneLine(err)))
	}
	var top map[string]any
	if err := json.Unmarshal(js, &top); err != nil || top == nil {
		return nil, fail("", "", errors.New("not a map: a fleet file has apiVersion, kind, defaults and tenants"))
	}
	if field, err := checkTop(top); err != nil {
		return nil, fail("", field, err)
	}
	var raw struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Defaults   json.RawMessage   `json:"defaults"`
		Tenants    []json.RawMessage `json:"tenants"`
	}
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fail("", "", errors.New(oneLine(err)))
	}
	f := &Fleet{APIVersion: raw.APIVersion, Kind: raw.Kind, file: name}
	// top holds each tenant decoded already, checked against the type
	// before the strict decode; checkTop made tenants a list.
	tenants, _ := top["tenants"].([]any)
	if len(raw.Defaults) > 0 {
		if err := decodeSpec(top["defaults"], raw.Defaults, &f.Defaults); err != nil {
			return nil, fail("defaults", err.field, err.err)
		}
		if field := tenantOnlyField(f.Defaults); field != "" {
			return nil, fail("defaults", field, errors.New("defaults are shared by every tenant: give name and namespaces under tenants"))
		}
	}
	if len(raw.Tenants) == 0 {
		return nil, fail("", "tenants", errors.New("the fleet lists no tenants"))
	}
	for i, msg := range raw.Tenants {
		var spec TenantSpec
		if err := decodeSpec(tenants[i], msg, &spec); err != nil {
			return nil, fail(tenantLabel(i, nameOf(tenants[i])), err.field, err.err)
		}
		f.Tenants = append(f.Tenants, spec)
	}
	if err := f.checkUnique(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkTop checks the document's own fields: version and kind, then that
// each field is known and of its type. It returns the bad field.
func checkTop(top map[string]any) (string, error) {
	// The version is checked first: another version's fields are not
	// this one's, so its other errors would only mislead.
	version, _ := top["apiVersion"].(string)
	kind, _ := top["kind"].(string)
	if version != FleetAPIVersion || kind != FleetKind {
		return "apiVersion", fmt.Errorf("%s %s is not a version this kubectl-tenant knows: want apiVersion %s, kind %s", plain(version), plain(kind), FleetAPIVersion, FleetKind)
	}
	fields := jsonFields(reflect.TypeOf(Fleet{}))
	for _, key := range SortedKeys(top) {
		f, ok := fields[key]
		if !ok {
			return plain(key), errors.New("unknown field (a fleet file has apiVersion, kind, defaults and tenants)")
		}
		if err := typeMismatch(top[key], f.Type); err != nil {
			return key, err
		}
	}
	return "", nil
}

// tenantOnlyField is the field of defaults that only a tenant may have.
func tenantOnlyField(d TenantSpec) string {
	switch {
	case d.Name != "":
		return "name"
	case len(d.Namespaces) > 0:
		return "namespaces"
	}
	return ""
}

// fieldError is a decoding error and the path of the field it is about.
type fieldError struct {
	field string
	err   error
}

// decodeSpec decodes one tenant strictly. The document is walked against
// the type first, because encoding/json's messages name a field without
// saying where in the tenant it is.
func decodeSpec(doc any, data []byte, spec *TenantSpec) *fieldError {
	if ferr := badField(doc, reflect.TypeOf(*spec), ""); ferr != nil {
		return ferr
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(spec); err != nil {
		return &fieldError{err: errors.New(oneLine(err))}
	}
	return nil
}

// unknownFieldError says what is wrong with key; a key that looks like a
// secret's value gets the reason it is refused.
func unknownFieldError(key string) error {
	lower := strings.ToLower(key)
	for _, s := range secretFieldNames() {
		if lower == s {
			return fmt.Errorf("unknown field: credentials are references (passwordFile, passwordEnv, bearerTokenFile, bearerTokenEnv, privateKeyFile, githubAppPrivateKeyFile, secretRef), never the secret itself")
		}
	}
	return errors.New("unknown field")
}

// badField returns the first field of doc that t has not, or whose value
// is of another type, with its path; keys are visited in sorted order so
// the message is the same every run.
func badField(doc any, t reflect.Type, path string) *fieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if err := typeMismatch(doc, t); err != nil {
		return &fieldError{path, err}
	}
	switch v := doc.(type) {
	case map[string]any:
		fields := map[string]reflect.StructField{}
		if t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		for _, k := range SortedKeys(v) {
			elem := t
			if t.Kind() == reflect.Map {
				elem = t.Elem()
			} else if f, ok := fields[k]; ok {
				elem = f.Type
			} else {
				return &fieldError{join(path, k), unknownFieldError(k)}
			}
			if ferr := badField(v[k], elem, join(path, k)); ferr != nil {
				return ferr
			}
		}
	case []any:
		for i, item := range v {
			if ferr := badField(item, t.Elem(), path+"["+strconv.Itoa(i)+"]"); ferr != nil {
				return ferr
			}
		}
	}
	return nil
}

// typeMismatch says, in YAML's words, what was wanted and what was found.
// YAML reads an unquoted yes, no, on, off or 1 as a boolean or a number,
// so a name like that needs quotes.
func typeMismatch(doc any, t reflect.Type) error {
	var got string
	switch doc.(type) {
	case nil:
		return nil // null leaves the field unset, as if absent
	case map[string]any:
		got = "a map"
	case []any:
		got = "a list"
	case string:
		got = "a string"
	case bool:
		got = "a boolean"
	default:
		got = "a number"
	}
	want := map[reflect.Kind]string{reflect.Map: "a map", reflect.Struct: "a map", reflect.Slice: "a list", reflect.String: "a string", reflect.Bool: "a boolean"}[t.Kind()]
	switch {
	case want == got:
		return nil
	case want == "a string" && (got == "a boolean" || got == "a number"):
		return fmt.Errorf("want %s, not %s: quote it", want, got)
	}
	return fmt.Errorf("want %s, not %s", want, got)
}

// jsonFields maps each exported field's JSON name to the field.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "" && name != "-" {
			fields[name] = f
		}
	}
	return fields
}

func join(path, key string) string {
	if path == "" {
		return plain(key)
	}
	return path + "." + plain(key)
}

// plain is s as it is when it reads unambiguously in a message, else
// quoted.
func plain(s string) string {
	if s != "" && checkText(s) == nil && !strings.ContainsAny(s, " \t\n\r\"") {
		return s
	}
	return strconv.Quote(s)
}

// checkUnique refuses a tenant named twice and a namespace listed twice,
// within a tenant or across tenants: two tenants owning one namespace
// would overwrite each other on every apply.
func (f *Fleet) checkUnique() error {
	names := map[string]int{}
	owner := map[string]int{}
	for i, t := range f.Tenants {
		label := tenantLabel(i, t.Name)
		if t.Name == "" {
			return &FleetError{File: f.file, Tenant: label, Field: "name", Err: errors.New("every tenant needs a name")}
		}
		if first, dup := names[t.Name]; dup {
			return &FleetError{File: f.file, Tenant: label, Field: "name", Err: fmt.Errorf("tenant %s is listed twice (first as tenant %d)", plain(t.Name), first+1)}
		}
		names[t.Name] = i
		if len(t.Namespaces) == 0 {
			return &FleetError{File: f.file, Tenant: label, Field: "namespaces", Err: errors.New("a tenant needs one or more namespaces")}
		}
		for j, ns := range t.Namespaces {
			field := fmt.Sprintf("namespaces[%d]", j)
			first, dup := owner[ns.Name]
			switch {
			case dup && first == i:
				return &FleetError{File: f.file, Tenant: label, Field: field, Err: fmt.Errorf("namespace %q is listed twice", ns.Name)}
			case dup:
				return &FleetError{File: f.file, Tenant: label, Field: field, Err: fmt.Errorf("namespace %q is already tenant %s's", ns.Name, plain(f.Tenants[first].Name))}
			}
			owner[ns.Name] = i
		}
	}
	return nil
}

// nameOf is a tenant's name read from a tenant that did not decode, so
// the message can still name it.
func nameOf(tenant any) string {
	peek, _ := tenant.(map[string]any)
	name, _ := peek["name"].(string)
	return name
}

// tenantLabel names a tenant by its name, or by its place when it has none.
func tenantLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("tenant %d", i+1)
	}
	return "tenant " + plain(name)
}

// oneLine keeps a multi-line error from breaking the one-line promise.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// IsFleetDocument reports whether data is a TenantFleet document (a YAML
// map that starts, after comments, with apiVersion or kind) rather than
// the list or CSV of tenants that add -f also reads.
func IsFleetDocument(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || line == "---" {
			continue
		}
		return strings.HasPrefix(line, "apiVersion:") || strings.HasPrefix(line, "kind:")
	}
	return false
}
