package posture

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

// Team is a tenant's namespaces among those read, which share its name,
// and what any of them has that every one should: the owners each binds,
// the source prefixes each allows, its tenant-policy ConfigMap. A
// namespace is judged against the others of its team, so that one that
// missed an add of the team does not go unnoticed.
type Team struct {
	Name string
	// Namespaces are sorted, so that "another namespace has it" names the
	// same one each run.
	Namespaces []string
	// HasMembers is set when kubectl tenant made any of the namespaces the
	// tenant's (tenant.IsMember): a team made before membership, or by the
	// demo's recipe, has none, and its namespaces are not strays.
	HasMembers bool
	// Owners, Sources: each owner (KIND:NAME=ROLE) and allowed source
	// prefix of the team, in first-seen order, with the first namespace
	// that has it.
	Owners, Sources []teamItem
	// RestrictedIn and PolicyIn are the first namespace whose tenant-policy
	// restricts sources, and the first with a tenant-policy; "" for none.
	RestrictedIn, PolicyIn string
}

// teamItem is one thing a team's namespaces should all have, and the
// namespace it was first seen in.
type teamItem struct{ value, namespace string }

// GroupTeams sets each tenant's Team: the tenants of one name are one team.
func GroupTeams(tenants []*TenantFacts) {
	byName := map[string][]*TenantFacts{}
	for _, t := range tenants {
		byName[t.Name] = append(byName[t.Name], t)
	}
	for name, members := range byName {
		slices.SortFunc(members, func(a, b *TenantFacts) int { return strings.Compare(a.Namespace, b.Namespace) })
		team := &Team{Name: name}
		team.gather(members)
		for _, t := range members {
			t.Team = team
		}
	}
}

// gather collects what the team's namespaces have, in namespace order.
func (team *Team) gather(members []*TenantFacts) {
	seenOwner, seenSource := map[string]bool{}, map[string]bool{}
	for _, t := range members {
		team.Namespaces = append(team.Namespaces, t.Namespace)
		team.HasMembers = team.HasMembers || t.Member
		for _, o := range t.Owners {
			if s := o.String(); !seenOwner[s] {
				seenOwner[s] = true
				team.Owners = append(team.Owners, teamItem{s, t.Namespace})
			}
		}
		if t.Policy && team.PolicyIn == "" {
			team.PolicyIn = t.Namespace
		}
		if t.AllowedSources == nil {
			continue
		}
		if team.RestrictedIn == "" {
			team.RestrictedIn = t.Namespace
		}
		for _, p := range t.AllowedSources {
			if !seenSource[p] {
				seenSource[p] = true
				team.Sources = append(team.Sources, teamItem{p, t.Namespace})
			}
		}
	}
}

// teamOf is t's team, or a team of t alone when t was read without one.
func teamOf(t *TenantFacts) *Team {
	if t.Team != nil {
		return t.Team
	}
	team := &Team{Name: t.Name}
	team.gather([]*TenantFacts{t})
	return team
}

// readTeamFacts reads what makes a namespace one of its team's: the
// owners its tenant-owners-ROLE RoleBindings bind and its tenant-policy
// ConfigMap, from the objects the reader listed already.
func (f *TenantFacts) readTeamFacts(objs *tenant.Objects) {
	for _, role := range render.OwnerRoles() {
		rb := objs.Get("RoleBinding", render.OwnerBindingName(role))
		if rb == nil {
			continue
		}
		kind, _, _ := unstructured.NestedString(rb.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(rb.Object, "roleRef", "name")
		if kind != "ClusterRole" || name != role {
			// Its subjects hold another role than the one owners of that
			// name are given: not owners of role, and a row of their own.
			f.MisboundOwners = append(f.MisboundOwners, fmt.Sprintf("RoleBinding %s grants %s %s, not ClusterRole %s", rb.GetName(), kind, name, role))
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(rb.Object, "subjects")
		for _, s := range subjects {
			m, _ := s.(map[string]any)
			subjectKind, _ := m["kind"].(string)
			subjectName, _ := m["name"].(string)
			if subjectKind == "ServiceAccount" {
				namespace, _ := m["namespace"].(string)
				subjectName = namespace + ":" + subjectName
			}
			f.Owners = append(f.Owners, render.Owner{Kind: subjectKind, Name: subjectName, Role: role})
		}
	}
	cm := objs.Get("ConfigMap", render.TenantPolicyName)
	if cm == nil {
		return
	}
	f.Policy = true
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	if lines, restricted := data[render.PolicyAllowedSourcesKey]; restricted {
		f.AllowedSources = append([]string{}, render.PolicyLines(lines)...)
	}
}

// TeamRows judge a namespace as one of its team's: which namespaces the
// team has, and whether this one has the owners, the allowed sources and
// the tenant-policy ConfigMap that another of them has.
func TeamRows(t *TenantFacts) []Row {
	team := teamOf(t)
	fix := teamFix(t, team)
	return []Row{namespacesRow(t, team, fix), ownersRow(t, team, fix), sourcesRow(t, team, fix), policyRow(t, team, fix)}
}

// namespacesRow names the team's namespaces, and warns of a namespace that
// only carries the team's name: tenant.IsMember says kubectl tenant did not
// make it one of the team's, so --tenant-name leaves it out.
func namespacesRow(t *TenantFacts, team *Team, fix string) Row {
	row := Row{Scope: t.Namespace, Check: "namespaces", Result: Pass,
		Detail: fmt.Sprintf("tenant %s: %s selected (%s)", team.Name, plural(len(team.Namespaces), "namespace"), shortList(team.Namespaces))}
	if team.HasMembers && !t.Member {
		row.Result = Warn
		row.Detail = fmt.Sprintf("namespace %s is labelled with tenant name %s, but kubectl tenant did not make it one of that tenant's namespaces (%s), so --tenant-name leaves it out; %s to make it one, or take the label off",
			t.Namespace, team.Name, shortList(team.Namespaces), fix)
	}
	return row
}

// ownersRow lists the owners bound here; it FAILs a binding that grants
// another role than its name says, and owners another namespace of the
// team binds that this one does not.
func ownersRow(t *TenantFacts, team *Team, fix string) Row {
	row := Row{Scope: t.Namespace, Check: "owners", Result: Pass, Detail: "no owners are bound"}
	here := make([]string, len(t.Owners))
	for i, o := range t.Owners {
		here[i] = o.String()
	}
	if len(here) > 0 {
		row.Detail = "owners " + strings.Join(here, ", ")
	}
	var problems []string
	if len(t.MisboundOwners) > 0 {
		problems = append(problems, strings.Join(t.MisboundOwners, "; "))
	}
	if missing := missingHere(team.Owners, here); len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("lacks %s %s, bound in other namespaces of tenant %s", plural(len(missing), "owner"), strings.Join(missing, ", "), team.Name))
	}
	if len(problems) > 0 {
		row.Result, row.Detail = Fail, strings.Join(problems, "; ")+"; "+fix
	}
	return row
}

// sourcesRow says where the tenant's sources may fetch from here. It FAILs
// a namespace that allows fewer prefixes than another of the team, or any
// URL while another restricts them, and warns of a confined tenant whose
// sources are unrestricted. Without a tenant-policy, policyRow judges.
func sourcesRow(t *TenantFacts, team *Team, fix string) Row {
	row := Row{Scope: t.Namespace, Check: "allowed-sources", Result: Pass}
	switch {
	case !t.Policy:
		row.Detail = fmt.Sprintf("sources may fetch from any URL: no ConfigMap %s", render.TenantPolicyName)
		if t.confined() {
			row.Result, row.Detail = Warn, fmt.Sprintf("the tenant is confined, but its sources may fetch from any URL: no ConfigMap %s; %s", render.TenantPolicyName, fix)
		}
	case t.AllowedSources == nil && team.RestrictedIn != "":
		row.Result, row.Detail = Fail, fmt.Sprintf("sources may fetch from any URL here (ConfigMap %s has no %s), but namespace %s of tenant %s restricts them; %s",
			render.TenantPolicyName, render.PolicyAllowedSourcesKey, team.RestrictedIn, team.Name, fix)
	case t.AllowedSources == nil && t.confined():
		row.Result, row.Detail = Warn, fmt.Sprintf("the tenant is confined, but ConfigMap %s has no %s, so its sources may fetch from any URL; %s",
			render.TenantPolicyName, render.PolicyAllowedSourcesKey, fix)
	case t.AllowedSources == nil:
		row.Detail = fmt.Sprintf("sources may fetch from any URL (ConfigMap %s has no %s)", render.TenantPolicyName, render.PolicyAllowedSourcesKey)
	default:
		row.Detail = "sources may fetch only from URLs under " + strings.Join(t.AllowedSources, ", ")
		if len(t.AllowedSources) == 0 {
			row.Detail = fmt.Sprintf("sources may fetch from no URL (ConfigMap %s allows none)", render.TenantPolicyName)
		}
		if missing := missingHere(team.Sources, t.AllowedSources); len(missing) > 0 {
			row.Result, row.Detail = Fail, fmt.Sprintf("lacks %s %s, allowed in other namespaces of tenant %s; %s",
				plural(len(missing), "allowed source prefix"), strings.Join(missing, ", "), team.Name, fix)
		}
	}
	return row
}

// policyRow says whether the namespace has its tenant-policy ConfigMap,
// the parameters without which the owners-and-sources policy does not
// apply to the namespace at all.
func policyRow(t *TenantFacts, team *Team, fix string) Row {
	row := Row{Scope: t.Namespace, Check: "tenant-policy", Result: Pass}
	switch {
	case t.Policy:
		row.Detail = fmt.Sprintf("ConfigMap %s holds the parameters of ValidatingAdmissionPolicy %s", render.TenantPolicyName, render.OwnersPolicyName)
	case team.PolicyIn != "":
		row.Result, row.Detail = Fail, fmt.Sprintf("no ConfigMap %s, which namespace %s of tenant %s has, so ValidatingAdmissionPolicy %s does not apply here; %s",
			render.TenantPolicyName, team.PolicyIn, team.Name, render.OwnersPolicyName, fix)
	case t.confined() || len(t.Owners) > 0:
		row.Result, row.Detail = Warn, fmt.Sprintf("no ConfigMap %s, so ValidatingAdmissionPolicy %s does not hold the tenant's owners and robots here; %s",
			render.TenantPolicyName, render.OwnersPolicyName, fix)
	default:
		row.Detail = fmt.Sprintf("no ConfigMap %s: the tenant has no owners and no allowed sources to enforce", render.TenantPolicyName)
	}
	return row
}

// missingHere are the team's items that are not among have, each with
// the namespace it was seen in: "User:bob=view (in payments-prod)".
func missingHere(items []teamItem, have []string) []string {
	var missing []string
	for _, item := range items {
		if !slices.Contains(have, item.value) {
			missing = append(missing, item.value+" (in "+item.namespace+")")
		}
	}
	return missing
}

// teamFix is the add that re-applies the team's owners and allowed
// sources to the namespace. add prunes what its flags leave out, so it
// names every owner and prefix of the team, not only the missing ones.
func teamFix(t *TenantFacts, team *Team) string {
	args := []string{"kubectl", "tenant", "add", "--tenant-name", shellWord(team.Name), "--tenant-namespace", t.Namespace}
	if t.confined() {
		args = append(args, "--confine")
	}
	for _, o := range team.Owners {
		args = append(args, "--owner", shellWord(o.value))
	}
	for _, s := range team.Sources {
		args = append(args, "--allow-source", shellWord(s.value))
	}
	// Not %q: it would escape the non-ASCII of a name that shellWord
	// already quoted.
	return `run "` + strings.Join(args, " ") + `" with the tenant's other flags`
}

// shellWord quotes s for a POSIX shell when it holds anything but the
// characters that need no quoting.
func shellWord(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shortListMax is how many names a row lists before it counts the rest:
// a team of a thousand namespaces must not make each of its rows a
// thousand names long.
const shortListMax = 5

// shortList joins names, the first shortListMax of them and how many more.
func shortList(names []string) string {
	if len(names) <= shortListMax {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shortListMax], ", "), len(names)-shortListMax)
}

// plural is "1 owner", "2 owners"; "source prefix" becomes "prefixes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "x") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
