package render

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"time"
)

// TenantOptions expands the fleet into one TenantOptions a namespace, as
// `add -f` does for its list: the defaults under each tenant, the tenant's
// namespace's own vars and path over both. base supplies what a fleet file
// does not say (the label key, and any setting neither the defaults nor
// the tenant give). Every value is checked; the first bad one fails the
// whole fleet, so a caller applies all of it or nothing.
//
// A confined tenant's credentials stay references: see SourceCredentials.
func (f *Fleet) TenantOptions(base TenantOptions) ([]TenantOptions, error) {
	var out []TenantOptions
	for i, t := range f.Tenants {
		spec := mergeSpec(f.Defaults, t)
		opts, err := f.expandTenant(base, spec)
		if err != nil {
			return nil, &FleetError{File: f.file, Tenant: tenantLabel(i, t.Name), Field: err.field, Err: err.err}
		}
		out = append(out, opts...)
	}
	return out, nil
}

// SourceCredentials are the credential references of each confined
// namespace whose own source has any, by namespace, for the caller to
// read and turn into a Secret.
func (f *Fleet) SourceCredentials() map[string]CredentialRefs {
	refs := map[string]CredentialRefs{}
	for _, t := range f.Tenants {
		c := mergeSpec(f.Defaults, t).Confinement
		if c == nil || c.GitURL == "" || c.Credentials == nil {
			continue
		}
		for _, ns := range t.Namespaces {
			refs[ns.Name] = *c.Credentials
		}
	}
	return refs
}

// mergeSpec is t over d: t's maps over d's key by key, t's lists and
// values instead of d's.
func mergeSpec(d, t TenantSpec) TenantSpec {
	out := t
	out.Vars = MergeMaps(d.Vars, t.Vars)
	if t.Owners == nil {
		out.Owners = d.Owners
	}
	if t.AllowedSources == nil {
		out.AllowedSources = d.AllowedSources
	}
	out.Source, out.Path, out.Interval = cmp.Or(t.Source, d.Source), cmp.Or(t.Path, d.Path), cmp.Or(t.Interval, d.Interval)
	out.ClusterRole, out.KustomizationName = cmp.Or(t.ClusterRole, d.ClusterRole), cmp.Or(t.KustomizationName, d.KustomizationName)
	out.Confinement = mergeConfinement(d.Confinement, t.Confinement)
	return out
}

// mergeConfinement is t over d, as mergeSpec. Credentials are taken whole,
// never mixed, since half of one way to authenticate and half of another
// is no way at all.
func mergeConfinement(d, t *FleetConfinement) *FleetConfinement {
	switch {
	case d == nil:
		return t
	case t == nil:
		return d
	}
	out := *t
	out.GitURL, out.Branch = cmp.Or(t.GitURL, d.GitURL), cmp.Or(t.Branch, d.Branch)
	out.SourceInterval, out.NetworkPolicy = cmp.Or(t.SourceInterval, d.SourceInterval), cmp.Or(t.NetworkPolicy, d.NetworkPolicy)
	if out.Credentials == nil {
		out.Credentials = d.Credentials
	}
	out.Quota = MergeMaps(d.Quota, t.Quota)
	out.LimitRange = MergeMaps(d.LimitRange, t.LimitRange)
	return &out
}

// MergeMaps is under with over's entries over it, in a map of its own;
// nil when both are empty.
func MergeMaps[V any](under, over map[string]V) map[string]V {
	if len(under) == 0 && len(over) == 0 {
		return nil
	}
	out := maps.Clone(under)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, over)
	return out
}

// expandTenant checks one merged tenant field by field, so the error names
// the field, and gives its options a namespace.
func (f *Fleet) expandTenant(base TenantOptions, spec TenantSpec) ([]TenantOptions, *fieldError) {
	team, ferr := sharedOptions(base, spec)
	if ferr != nil {
		return nil, ferr
	}
	var out []TenantOptions
	for j, ns := range spec.Namespaces {
		field := fmt.Sprintf("namespaces[%d]", j)
		if err := ValidateNamespaceName(ns.Name); err != nil {
			return nil, &fieldError{field + ".name", err}
		}
		for _, k := range SortedKeys(ns.Vars) {
			if err := validateVar(k, ns.Vars[k]); err != nil {
				return nil, &fieldError{field + ".vars." + k, err}
			}
		}
		t := team
		t.Namespace = ns.Name
		t.Vars = MergeMaps(team.Vars, ns.Vars)
		if ns.Path != "" {
			t.Path = ns.Path
		}
		if err := t.Validate(); err != nil {
			// Every shared field is checked already: what is left is
			// the namespace's path.
			return nil, &fieldError{field + ".path", err}
		}
		out = append(out, t)
	}
	return out, nil
}

// sharedOptions are the options every namespace of the tenant shares. Each
// setting is checked as it is set, on options that were valid before, so
// the existing validator's error is about that setting alone.
func sharedOptions(base TenantOptions, spec TenantSpec) (TenantOptions, *fieldError) {
	o := base
	o.Name = spec.Name
	if err := ValidateTenantName(o.Name); err != nil {
		return o, &fieldError{"name", err}
	}
	o.Vars = MergeMaps(base.Vars, spec.Vars)
	for _, k := range SortedKeys(spec.Vars) {
		if err := validateVar(k, spec.Vars[k]); err != nil {
			return o, &fieldError{"vars." + k, err}
		}
	}
	if spec.Owners != nil {
		o.Owners = nil
		for j, fo := range spec.Owners {
			owner := Owner{Kind: fo.Kind, Name: fo.Name, Role: fo.Role}
			if owner.Role == "" {
				owner.Role = DefaultOwnerRole
			}
			o.Owners = append(o.Owners, owner)
			if err := validateTeam(o.Owners, nil); err != nil {
				return o, &fieldError{fmt.Sprintf("owners[%d]", j), err}
			}
		}
	}
	if spec.AllowedSources != nil {
		o.AllowedSources = spec.AllowedSources
		for j, prefix := range spec.AllowedSources {
			if err := ValidateAllowedSource(prefix); err != nil {
				return o, &fieldError{fmt.Sprintf("allowedSources[%d]", j), err}
			}
		}
	}
	if spec.Source != "" {
		ref, err := ParseSourceRef(spec.Source)
		if err != nil {
			return o, &fieldError{"source", err}
		}
		o.Source = ref
	}
	if ferr := setScalars(&o, spec); ferr != nil {
		return o, ferr
	}
	conf, ferr := confinementOf(spec.Confinement, o.Source)
	if ferr != nil {
		return o, &fieldError{join("confinement", ferr.field), ferr.err}
	}
	o.Confinement = conf
	if conf != nil && spec.ClusterRole == "" {
		o.ClusterRole = ConfinedClusterRole
	}
	return o, nil
}

// setScalars sets path, interval, cluster role and Kustomization name,
// each checked by the rule TenantOptions.Validate applies to it.
func setScalars(o *TenantOptions, spec TenantSpec) *fieldError {
	var interval time.Duration
	for _, s := range []struct {
		field, value string
		check        func(string) error
		dst          *string
	}{
		{"path", spec.Path, validatePath, &o.Path},
		{"interval", spec.Interval, func(v string) (err error) { interval, err = parseFleetDuration(v); return err }, nil},
		{"clusterRole", spec.ClusterRole, validateClusterRole, &o.ClusterRole},
		{"kustomizationName", spec.KustomizationName, validateKustomizationName, &o.KustomizationName},
	} {
		if s.value == "" {
			continue
		}
		if err := s.check(s.value); err != nil {
			return &fieldError{s.field, err}
		}
		if s.dst != nil {
			*s.dst = s.value
		}
	}
	if interval > 0 {
		o.Interval = interval
	}
	return nil
}

// confinementOf builds add --confine's confinement from the file's. Its
// own source, when it has a gitURL, is rendered here; without one the
// caller copies the shared source's spec from the cluster, as add does.
func confinementOf(c *FleetConfinement, shared SourceRef) (*Confinement, *fieldError) {
	if c == nil {
		return nil, nil
	}
	out := &Confinement{
		Source: TenantSource{Kind: shared.Kind, Name: shared.Name},
		Quota:  map[string]string{}, Limits: map[string]ContainerDefault{},
	}
	switch c.NetworkPolicy {
	case "", NetworkPolicyNone:
	case NetworkPolicyIsolate:
		out.NetworkPolicy = NetworkPolicyIsolate
	default:
		return nil, &fieldError{"networkPolicy", fmt.Errorf("%q is not isolate or none", c.NetworkPolicy)}
	}
	for _, k := range SortedKeys(c.Quota) {
		if err := validateQuota(k, c.Quota[k]); err != nil {
			return nil, &fieldError{"quota." + k, err}
		}
		out.Quota[k] = c.Quota[k]
	}
	for _, k := range SortedKeys(c.LimitRange) {
		d := ContainerDefault(c.LimitRange[k])
		if err := validateLimit(k, d); err != nil {
			return nil, &fieldError{"limitRange." + k, err}
		}
		out.Limits[k] = d
	}
	if ferr := setOwnSource(out, c); ferr != nil {
		return nil, ferr
	}
	if err := out.Validate(); err != nil {
		return nil, &fieldError{"", err}
	}
	return out, nil
}

// setOwnSource renders the tenant's own GitRepository from gitURL.
// Branch, interval and credentials without a gitURL would be silently
// ignored, so they are refused.
func setOwnSource(out *Confinement, c *FleetConfinement) *fieldError {
	if c.GitURL == "" {
		for _, given := range []struct {
			field string
			set   bool
		}{{"branch", c.Branch != ""}, {"sourceInterval", c.SourceInterval != ""}, {"credentials", c.Credentials != nil}} {
			if given.set {
				return &fieldError{given.field, errors.New("is for the tenant's own source: give gitURL too")}
			}
		}
		return nil
	}
	if err := ValidateGitURL(c.GitURL); err != nil {
		return &fieldError{"gitURL", err}
	}
	branch := c.Branch
	if branch == "" {
		branch = DefaultBranch
	}
	interval := DefaultTenantSourceInterval
	if c.SourceInterval != "" {
		var err error
		if interval, err = parseFleetDuration(c.SourceInterval); err != nil {
			return &fieldError{"sourceInterval", err}
		}
	}
	out.Source.Kind = "GitRepository"
	out.Source.Spec = GitSourceSpec(c.GitURL, branch, interval, DefaultIgnorePaths())
	return nil
}

func parseFleetDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 5m or 1h30m", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s must be greater than zero", s)
	}
	return d, nil
}
