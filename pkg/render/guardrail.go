package render

import (
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GuardrailPolicyName names the ValidatingAdmissionPolicy, and its binding,
// that keep a confined tenant from changing what the platform put in its
// namespace.
const GuardrailPolicyName = "kubectl-tenant-guardrails"

// guardedResources are the resources the plugin writes into a confined
// tenant's namespace, by API group.
func guardedResources() map[string][]string {
	return map[string][]string{
		"":                            {"configmaps", "serviceaccounts", "secrets", "resourcequotas", "limitranges"},
		"rbac.authorization.k8s.io":   {"rolebindings"},
		"networking.k8s.io":           {"networkpolicies"},
		"kustomize.toolkit.fluxcd.io": {"kustomizations"},
		"source.toolkit.fluxcd.io":    {"gitrepositories", "ocirepositories"},
	}
}

// GuardrailPolicy returns the ValidatingAdmissionPolicy and its binding
// that deny the tenant's own identities (its service accounts, which Flux
// impersonates, and the gotk:NS:reconciler user `flux create tenant` binds)
// any create, update or delete of an object the plugin manages in a tenant
// namespace. The plugin's user and Flux's controllers are other identities
// and pass. Built into kube-apiserver since 1.30: no webhook, no operator.
func GuardrailPolicy() (*admissionv1.ValidatingAdmissionPolicy, *admissionv1.ValidatingAdmissionPolicyBinding) {
	var rules []admissionv1.NamedRuleWithOperations
	groups := guardedResources()
	for _, group := range SortedKeys(groups) {
		rules = append(rules, admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
			Rule: admissionv1.Rule{
				APIGroups:   []string{group},
				APIVersions: []string{"*"},
				Resources:   groups[group],
			},
		}})
	}
	fail := admissionv1.Fail
	tenantNamespaces := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: FluxTenantLabelKey, Operator: metav1.LabelSelectorOpExists},
	}}
	managed := fmt.Sprintf("has(%%[1]s.metadata.labels) && %[1]q in %%[1]s.metadata.labels && %%[1]s.metadata.labels[%[1]q] == %[2]q", ManagedByLabelKey, ManagedByValue)
	policy := &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: GuardrailPolicyName, Labels: map[string]string{ManagedByLabelKey: ManagedByValue}},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: tenantNamespaces,
				ResourceRules:     rules,
			},
			MatchConditions: []admissionv1.MatchCondition{
				{
					Name: "tenant-identity",
					Expression: "request.userInfo.username == 'gotk:' + request.namespace + ':reconciler' || " +
						"request.userInfo.username.startsWith('system:serviceaccount:' + request.namespace + ':')",
				},
				{
					Name: "managed-by-kubectl-tenant",
					Expression: "(object != null && " + fmt.Sprintf(managed, "object") + ") || " +
						"(oldObject != null && " + fmt.Sprintf(managed, "oldObject") + ")",
				},
			},
			Validations: []admissionv1.Validation{{
				Expression: "false",
				MessageExpression: "'kubectl-tenant guardrail: ' + request.resource.resource + ' ' + request.name + " +
					"' in tenant namespace ' + request.namespace + ' is managed by the platform; ' + request.userInfo.username + ' may not ' + " +
					"request.operation.lowerAscii() + ' it'",
				Reason: ptrTo(metav1.StatusReasonForbidden),
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: GuardrailPolicyName, Labels: map[string]string{ManagedByLabelKey: ManagedByValue}},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        GuardrailPolicyName,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	return policy, binding
}

func ptrTo[T any](v T) *T { return &v }
