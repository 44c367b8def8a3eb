package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// Settings are a tenant's settings as flags, declared once: each binds its
// flag here, fills render.TenantOptions in Options, and is read back from
// the cluster by one rule of readBackRules. add, diff and export take them
// through this type, so no command keeps a list of setting flags of its
// own. The flags that name a tenant (--tenant-namespace, --tenant-name) or
// say how to apply it (--dry-run, --wait) are the commands' own.
type Settings struct {
	Vars              []string
	ClusterRole       string
	KustomizationName string
	Source            string
	Path              string
	Interval          time.Duration
	// Filename lists many tenants, each of which starts from the flags.
	Filename string

	// The team's: its people, the sources it may use, and what differs
	// between its namespaces.
	Owners         []string
	AllowSources   []string
	NamespaceVars  []string
	NamespacePaths []string

	Confine          bool
	Unconfine        bool
	GitURL           string
	Branch           string
	SourceInterval   time.Duration
	CopySourceSecret bool
	Quota            []string
	LimitRange       []string
	NetworkPolicy    string
	// Credentials are those of the tenant's own source at --git-url.
	Credentials CredentialFlags

	flags *pflag.FlagSet
	// names are the flags AddFlags added, so that Given asks about exactly
	// those.
	names []string
	// fileSources are the own sources the entries of -f name, by namespace.
	fileSources map[string]ownSource
}

// NewSettings returns the settings of the demo's tenant.
func NewSettings() *Settings {
	d := render.DefaultTenantOptions()
	return &Settings{
		ClusterRole:       d.ClusterRole,
		KustomizationName: d.KustomizationName,
		Source:            render.DefaultSource,
		Path:              d.Path,
		Interval:          d.Interval,
		Branch:            render.DefaultBranch,
		SourceInterval:    render.DefaultTenantSourceInterval,
	}
}

// AddFlags binds every setting's flag.
func (s *Settings) AddFlags(fs *pflag.FlagSet) {
	before := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { before[f.Name] = true })
	fs.StringArrayVar(&s.Vars, "var", nil, "Extra post-build substitution variable KEY=VALUE for the tenant-vars ConfigMap (repeatable)")
	fs.StringVar(&s.ClusterRole, "cluster-role", s.ClusterRole, "ClusterRole bound to the tenant's reconciler in its namespace")
	fs.StringVar(&s.KustomizationName, "kustomization-name", s.KustomizationName, "Name of the tenant's Flux Kustomization")
	fs.StringVar(&s.Source, "source", s.Source, "Flux source of the per-tenant template, in the form <kind>/<name>.<namespace>")
	fs.StringVar(&s.Path, "path", s.Path, "Path to the per-tenant template inside the source")
	fs.DurationVar(&s.Interval, "interval", s.Interval, "Reconcile interval of the tenant's Kustomization")
	fs.StringVarP(&s.Filename, "filename", "f", "", "File listing many tenants: CSV lines namespace,name[,KEY=VALUE...], a YAML list of {namespace, name, vars} or team entries, or a TenantFleet document (apiVersion kubectl-tenant.io/v1alpha1); - reads stdin")
	s.addTeamFlags(fs)
	s.addConfineFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if !before[f.Name] {
			s.names = append(s.names, f.Name)
		}
	})
	s.flags = fs
}

// addTeamFlags binds the flags of a team tenant's people, allowed sources
// and namespaces.
func (s *Settings) addTeamFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&s.Owners, "owner", nil, "One of the team's people, KIND:NAME[=ROLE] with KIND User, Group or ServiceAccount (NAMESPACE:NAME), bound in every namespace of the tenant (repeatable). ROLE is admin, edit or view; the default, "+render.DefaultOwnerRole+", deploys workloads and the team's own Flux objects but cannot change RBAC, so the platform alone decides who is in the team. Under bootstrap --lockdown owners cannot change what the platform put in the namespaces")
	fs.StringArrayVar(&s.AllowSources, "allow-source", nil, "A URL prefix the tenant's Flux sources may fetch from, e.g. https://github.com/acme/ (repeatable); enforced for its service accounts and owners by bootstrap --lockdown's policy. A prefix ends at a path boundary. With --confine the default is the tenant's own source and nothing else")
	fs.StringArrayVar(&s.NamespaceVars, "namespace-var", nil, "A variable for one namespace of the tenant, NAMESPACE:KEY=VALUE, over --var (repeatable)")
	fs.StringArrayVar(&s.NamespacePaths, "namespace-path", nil, "The template path for one namespace of the tenant, NAMESPACE=PATH, e.g. payments-prod=./tenants/production (repeatable; default --path)")
}

// addConfineFlags binds the flags of a confined tenant: its own source, a
// least-privilege role and guardrails (see render.Confinement).
func (s *Settings) addConfineFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&s.Confine, "confine", false, "Lock the tenant in: Flux applies its manifests as the tenant's ServiceAccount, from a source in its own namespace, with the admin role by default; every object is marked as the platform's so that bootstrap --lockdown's guardrail policy keeps the tenant from changing it")
	fs.BoolVar(&s.Unconfine, "unconfine", false, "Turn a confined tenant back into an unconfined one (without it, add refuses to loosen a confined tenant)")
	fs.StringVar(&s.GitURL, "git-url", "", "With --confine, the git repository of the tenant's own source (default: copy the spec of the shared --source from the cluster)")
	fs.StringVar(&s.Branch, "branch", s.Branch, "With --confine and --git-url, the branch of the tenant's own source")
	fs.DurationVar(&s.SourceInterval, "source-interval", s.SourceInterval, "With --confine, how often the tenant's own source fetches the template (every tenant fetches on its own)")
	fs.BoolVar(&s.CopySourceSecret, "copy-source-secret", false, "With --confine, copy the shared source's credentials Secret into the tenant's namespace; the tenant can then read those credentials")
	fs.StringArrayVar(&s.Quota, "quota", nil, "With --confine, a ResourceQuota limit RESOURCE=QUANTITY, e.g. pods=20 or count/kustomizations.kustomize.toolkit.fluxcd.io=5 (repeatable)")
	fs.StringArrayVar(&s.LimitRange, "limit-range", nil, "With --confine, a default container request and limit RESOURCE=REQUEST[/LIMIT], e.g. cpu=100m/500m (repeatable)")
	s.Credentials.AddFlags(fs, "the tenant's own source (--confine --git-url)")
	fs.StringVar(&s.NetworkPolicy, "network-policy", "", `With --confine, "isolate": ingress only from the tenant's namespace and flux-system, egress only to the namespace and DNS`)
}

// Given reports whether the user set any setting on the command line.
func (s *Settings) Given() bool {
	for _, name := range s.names {
		if s.changed(name) {
			return true
		}
	}
	return false
}

func (s *Settings) changed(name string) bool {
	return s.flags != nil && s.flags.Changed(name)
}

// Options fills o, which names the tenant, with the settings. The
// confinement's source is left for ResolveSource when it is to be copied
// from the cluster.
func (s *Settings) Options(o render.TenantOptions) (render.TenantOptions, error) {
	o.ClusterRole, o.KustomizationName, o.Path, o.Interval = s.ClusterRole, s.KustomizationName, s.Path, s.Interval
	vars, err := parseVars(s.Vars)
	if err != nil {
		return o, err
	}
	o.Vars = vars
	if o.Source, err = render.ParseSourceRef(s.Source); err != nil {
		return o, err
	}
	if o.Owners, err = parseOwners(s.Owners); err != nil {
		return o, err
	}
	if s.changed("allow-source") {
		o.AllowedSources = s.AllowSources
	}
	if o.Confinement, err = s.confinement(o.Source); err != nil {
		return o, err
	}
	if o.Confinement != nil && !s.changed("cluster-role") {
		o.ClusterRole = render.ConfinedClusterRole
	}
	return o, nil
}

func parseVars(given []string) (map[string]string, error) {
	if len(given) == 0 {
		return nil, nil
	}
	vars := make(map[string]string, len(given))
	for _, v := range given {
		key, value, err := render.ParseVar(v)
		if err != nil {
			return nil, err
		}
		if _, dup := vars[key]; dup {
			return nil, fmt.Errorf("invalid --var %q: variable %s is given twice", v, key)
		}
		vars[key] = value
	}
	return vars, nil
}

func parseOwners(given []string) ([]render.Owner, error) {
	var owners []render.Owner
	for _, v := range given {
		owner, err := render.ParseOwner(v)
		if err != nil {
			return nil, err
		}
		owners = append(owners, owner)
	}
	return owners, nil
}

// confinementOnly are the flags given that mean nothing without --confine.
func (s *Settings) confinementOnly() []string {
	var set []string
	for _, name := range []string{"git-url", "branch", "source-interval", "copy-source-secret", "quota", "limit-range", "network-policy"} {
		if s.changed(name) {
			set = append(set, "--"+name)
		}
	}
	return set
}

// confinement builds the tenant's confinement from the flags.
func (s *Settings) confinement(shared render.SourceRef) (*render.Confinement, error) {
	if s.Confine && s.Unconfine {
		return nil, fmt.Errorf("--confine and --unconfine cannot be combined: give the one you mean")
	}
	if !s.Confine {
		if s.Credentials.Given() {
			return nil, fmt.Errorf("credential flags give a confined tenant's own source (--git-url) its credentials: add --confine --git-url")
		}
		if set := s.confinementOnly(); len(set) > 0 {
			return nil, fmt.Errorf("%s only apply to a confined tenant: add --confine", strings.Join(set, ", "))
		}
		return nil, nil
	}
	c := &render.Confinement{
		Source:        render.TenantSource{Kind: shared.Kind, Name: shared.Name},
		Quota:         map[string]string{},
		Limits:        map[string]render.ContainerDefault{},
		NetworkPolicy: s.NetworkPolicy,
	}
	if s.GitURL != "" {
		c.Source.Kind = "GitRepository"
		c.Source.Spec = render.GitSourceSpec(s.GitURL, s.Branch, s.SourceInterval, render.DefaultIgnorePaths())
	}
	for _, q := range s.Quota {
		key, value, err := render.ParseQuota(q)
		if err != nil {
			return nil, err
		}
		if _, dup := c.Quota[key]; dup {
			return nil, fmt.Errorf("invalid --quota %q: %s is given twice", q, key)
		}
		c.Quota[key] = value
	}
	for _, l := range s.LimitRange {
		name, d, err := render.ParseLimit(l)
		if err != nil {
			return nil, err
		}
		if _, dup := c.Limits[name]; dup {
			return nil, fmt.Errorf("invalid --limit-range %q: %s is given twice", l, name)
		}
		c.Limits[name] = d
	}
	return c, nil
}

// Validate checks what the flags alone can tell.
func (s *Settings) Validate(dryRun DryRunStrategy) error {
	if !s.Confine {
		return nil
	}
	if s.GitURL == "" && dryRun == DryRunClient {
		return fmt.Errorf("--confine with --dry-run=client needs --git-url: without it the tenant's source is copied from the cluster")
	}
	if s.GitURL != "" && s.CopySourceSecret {
		return fmt.Errorf("--copy-source-secret copies the shared source's Secret, which --git-url does not use: give one of them")
	}
	if s.SourceInterval <= 0 {
		return fmt.Errorf("invalid --source-interval %s: must be greater than zero", s.SourceInterval)
	}
	if s.GitURL != "" {
		if err := render.ValidateGitURL(s.GitURL); err != nil {
			return fmt.Errorf("invalid --git-url: %w", err)
		}
	}
	if s.Credentials.Given() && s.GitURL == "" {
		return fmt.Errorf("credential flags give the tenant's own source at --git-url its credentials: add --git-url (the shared source's are copied with --copy-source-secret)")
	}
	return s.Credentials.Validate()
}

// Tenants are the tenants to render, one render.TenantOptions for each
// namespace: base in each of namespaces, or every tenant the file of -f
// lists, each with base's settings and the file's over the flags'. The
// per-namespace variables and paths of the flags go over both. stdin is
// read for "-f -".
func (s *Settings) Tenants(base render.TenantOptions, namespaces []string, stdin io.Reader) ([]render.TenantOptions, error) {
	var tenants []render.TenantOptions
	if s.Filename == "" {
		for _, ns := range namespaces {
			t := base
			t.Namespace = ns
			tenants = append(tenants, t)
		}
	} else {
		var err error
		if tenants, err = s.fileTenants(base, stdin); err != nil {
			return nil, err
		}
	}
	return s.perNamespace(tenants)
}

// tenantsIn reads the tenants of one file of -f, named name in messages.
func (s *Settings) tenantsIn(base render.TenantOptions, name string, data []byte) ([]render.TenantOptions, error) {
	if render.IsFleetDocument(data) {
		return s.fleetTenants(base, name, data)
	}
	entries, err := render.ParseTenantList(data)
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", name, err)
	}
	var tenants []render.TenantOptions
	for _, e := range entries {
		team := base
		team.Name = e.Name
		if len(e.Owners) > 0 {
			if team.Owners, err = parseOwners(e.Owners); err != nil {
				return nil, fmt.Errorf("-f %s: tenant %s: %w", name, e.Name, err)
			}
		}
		if e.AllowedSources != nil {
			team.AllowedSources = e.AllowedSources
		}
		src, err := s.entrySource(team, e, name)
		if err != nil {
			return nil, err
		}
		for _, ns := range e.NamespaceEntries() {
			t := team
			t.Namespace = ns.Name
			if src != nil {
				t.Confinement = withOwnSource(team.Confinement, src.GitURL, s)
				s.fileSources[ns.Name] = *src
			}
			t.Vars = render.MergeMaps(base.Vars, ns.Vars)
			if ns.Path != "" {
				t.Path = ns.Path
			}
			tenants = append(tenants, t)
		}
	}
	return tenants, nil
}

// fleetTenants reads a TenantFleet document: its tenants over its
// defaults over the flags, one TenantOptions a namespace, and each
// confined namespace's own source with its credential references.
func (s *Settings) fleetTenants(base render.TenantOptions, name string, data []byte) ([]render.TenantOptions, error) {
	fleet, err := render.ParseFleet(name, data)
	if err != nil {
		return nil, err
	}
	tenants, err := fleet.TenantOptions(base)
	if err != nil {
		return nil, err
	}
	refs := fleet.SourceCredentials()
	for _, t := range tenants {
		if t.Confinement == nil || t.Confinement.Source.Spec == nil {
			continue
		}
		url, _ := t.Confinement.Source.Spec["url"].(string)
		src := ownSource{GitURL: url}
		if ref, ok := refs[t.Namespace]; ok {
			src.Credentials.CredentialRefs = ref
			if err := src.Credentials.Validate(); err != nil {
				return nil, fmt.Errorf("%s: tenant %s (namespace %s): credentials: %w", name, t.Name, t.Namespace, err)
			}
		}
		s.fileSources[t.Namespace] = src
	}
	return tenants, nil
}

// entrySource reads an entry's own source: its gitURL and the credentials
// for it, which are references (files, environment variables, a Secret
// name) and never values: a field that would hold a secret is unknown.
func (s *Settings) entrySource(team render.TenantOptions, e render.TenantEntry, file string) (*ownSource, error) {
	if e.GitURL == "" {
		if len(e.Credentials) > 0 {
			return nil, fmt.Errorf("-f %s: tenant %s: credentials are for its own source: give gitURL too", file, e.Name)
		}
		return nil, nil
	}
	if team.Confinement == nil {
		return nil, fmt.Errorf("-f %s: tenant %s: gitURL is a confined tenant's own source: add --confine", file, e.Name)
	}
	src := &ownSource{GitURL: e.GitURL}
	if len(e.Credentials) > 0 {
		dec := json.NewDecoder(bytes.NewReader(e.Credentials))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&src.Credentials); err != nil {
			return nil, fmt.Errorf("-f %s: tenant %s: credentials: %v (credentials name a file, an environment variable or a Secret: privateKeyFile, knownHostsFile, username, passwordFile, passwordEnv, bearerTokenFile, bearerTokenEnv, caFile, secretRef, ...; never the secret itself)", file, e.Name, err)
		}
	}
	if err := render.ValidateGitURL(e.GitURL); err != nil {
		return nil, fmt.Errorf("-f %s: tenant %s: gitURL: %w", file, e.Name, err)
	}
	if err := src.Credentials.Validate(); err != nil {
		return nil, fmt.Errorf("-f %s: tenant %s: %w", file, e.Name, err)
	}
	return src, nil
}

// withOwnSource is conf with its source at gitURL, on the flags' branch
// and interval.
func withOwnSource(conf *render.Confinement, gitURL string, s *Settings) *render.Confinement {
	out := *conf
	out.Source.Kind = "GitRepository"
	out.Source.Spec = render.GitSourceSpec(gitURL, s.Branch, s.SourceInterval, render.DefaultIgnorePaths())
	out.Source.Secrets = nil
	return &out
}

// perNamespace applies --namespace-var and --namespace-path, each to a
// namespace among the tenants'.
func (s *Settings) perNamespace(tenants []render.TenantOptions) ([]render.TenantOptions, error) {
	index := make(map[string]int, len(tenants))
	for i, t := range tenants {
		index[t.Namespace] = i
	}
	find := func(flag, value, ns string) (*render.TenantOptions, error) {
		i, ok := index[ns]
		if !ok {
			return nil, fmt.Errorf("invalid --%s %q: %q is not one of the tenant's namespaces", flag, value, ns)
		}
		return &tenants[i], nil
	}
	for _, v := range s.NamespaceVars {
		ns, kv, ok := strings.Cut(v, ":")
		if !ok {
			return nil, fmt.Errorf("invalid --namespace-var %q: must be NAMESPACE:KEY=VALUE", v)
		}
		t, err := find("namespace-var", v, ns)
		if err != nil {
			return nil, err
		}
		key, value, err := render.ParseVar(kv)
		if err != nil {
			return nil, fmt.Errorf("invalid --namespace-var %q: %w", v, err)
		}
		t.Vars = render.MergeMaps(t.Vars, map[string]string{key: value})
	}
	for _, v := range s.NamespacePaths {
		ns, path, ok := strings.Cut(v, "=")
		if !ok || path == "" {
			return nil, fmt.Errorf("invalid --namespace-path %q: must be NAMESPACE=PATH", v)
		}
		t, err := find("namespace-path", v, ns)
		if err != nil {
			return nil, err
		}
		t.Path = path
	}
	return tenants, nil
}

// ValidateTenants checks every tenant's options, naming the file's entry.
func (s *Settings) ValidateTenants(tenants []render.TenantOptions) error {
	for _, t := range tenants {
		if err := t.Validate(); err != nil {
			if s.Filename != "" {
				return fmt.Errorf("-f %s: tenant %s (namespace %s): %w", s.Filename, t.Name, t.Namespace, err)
			}
			return err
		}
	}
	return nil
}
