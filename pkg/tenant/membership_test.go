package tenant

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-tenant/kubectl-tenant/internal/fixtures"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// namespaceWritten is a namespace labelled tenant name, with managedFields
// entries of manager -> field set as the API server records them.
func namespaceWritten(name, tenantName string, entries ...metav1.ManagedFieldsEntry) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{render.DefaultTenantLabelKey: tenantName}, ManagedFields: entries}}
}

func entry(manager, subresource, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Subresource: subresource, Operation: metav1.ManagedFieldsOperationApply,
		APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

// TestMembersAgreesWithIsMember: Members, which decodes each distinct field
// set once, answers as IsMember does, whatever order it meets the same
// field sets in and whatever label value they come with. The oracle is who
// wrote the tenant label in each case.
func TestMembersAgreesWithIsMember(t *testing.T) {
	const key = render.DefaultTenantLabelKey
	applied := `{"f:metadata":{"f:labels":{"f:` + key + `":{},"f:kubernetes.io/metadata.name":{},"f:toolkit.fluxcd.io/tenant":{}}}}`
	withoutLabel := `{"f:metadata":{"f:labels":{"f:kubernetes.io/metadata.name":{},"f:toolkit.fluxcd.io/tenant":{}}}}`
	cases := []struct {
		ns     *metav1.PartialObjectMetadata
		tenant string
		member bool
	}{
		{namespaceWritten("made", "payments", entry(FieldManager, "", applied)), "payments", true},
		{namespaceWritten("made", "payments", entry(FieldManager, "", applied)), "orders", false},
		{namespaceWritten("other-made", "orders", entry(FieldManager, "", applied)), "orders", true},
		{namespaceWritten("by-hand", "payments", entry("kubectl-label", "", applied)), "payments", false},
		// Made by the plugin, then relabelled by hand: the server moved the
		// label's ownership to kubectl-label.
		{namespaceWritten("moved", "payments", entry(FieldManager, "", withoutLabel), entry("kubectl-label", "", `{"f:metadata":{"f:labels":{"f:`+key+`":{}}}}`)), "payments", false},
		{namespaceWritten("annotated", "payments", entry(FieldManager, "", `{"f:metadata":{"f:annotations":{"f:`+key+`":{}}}}`)), "payments", false},
		{namespaceWritten("status", "payments", entry(FieldManager, "status", applied)), "payments", false},
		{namespaceWritten("garbled", "payments", entry(FieldManager, "", `{"f:metadata":`)), "payments", false},
		{namespaceWritten("second-entry", "payments", entry("kubectl-label", "", applied), entry(FieldManager, "", applied)), "payments", true},
		{namespaceWritten("from-git", "payments", entry(FluxApplyManager, "", applied)), "payments", true},
	}
	for _, tenant := range fixtures.MixedTenants() {
		lt := capturedTenant(t, tenant.Namespace+"-applied.yaml")
		ns := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: lt.Namespace,
			Labels: lt.Objects.Namespace.GetLabels(), ManagedFields: lt.Objects.Namespace.GetManagedFields()}}
		cases = append(cases, struct {
			ns     *metav1.PartialObjectMetadata
			tenant string
			member bool
		}{ns, ns.Labels[key], true})
	}
	members := NewMembers(key)
	for round := range 2 {
		for _, c := range cases {
			if got := IsMember(c.ns, key, c.tenant); got != c.member {
				t.Errorf("IsMember(%s, %s) = %v, want %v", c.ns.Name, c.tenant, got, c.member)
			}
			if got := members.IsMember(c.ns, c.tenant); got != c.member {
				t.Errorf("round %d: Members.IsMember(%s, %s) = %v, want %v", round, c.ns.Name, c.tenant, got, c.member)
			}
		}
	}
	distinct := map[string]bool{}
	for _, c := range cases {
		for _, mf := range c.ns.ManagedFields {
			if mf.Manager == FieldManager && mf.Subresource == "" {
				distinct[string(mf.FieldsV1.Raw)] = true
			}
		}
	}
	if len(members.owns) != len(distinct) {
		t.Errorf("Members decoded %d field sets; the cases have %d distinct ones", len(members.owns), len(distinct))
	}
}
