package render

import (
	"fmt"
	"strings"

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

// OwnersPolicyName names the ValidatingAdmissionPolicy, and its binding,
// that hold a tenant's owners and robots to the tenant's own parameters:
// the platform's objects stay out of their reach, and the sources they
// make may fetch only from the tenant's allowed URL prefixes.
const OwnersPolicyName = "kubectl-tenant-owners-and-sources"

// sourceResources are Flux's sources that fetch from a URL (a Bucket from
// an endpoint), which an allow-list of URL prefixes restricts.
func sourceResources() []string {
	return []string{"buckets", "gitrepositories", "helmrepositories", "ocirepositories"}
}

// OwnersPolicy returns the policy that reads each tenant namespace's
// TenantPolicyName ConfigMap as its parameters (a binding's paramRef
// without a namespace looks in the namespace of the request) and denies
// the tenant's owners and robots (its service accounts and the
// gotk:NS:reconciler user) two things: any change to an object the
// platform put in the namespace, and a source whose URL is not under one
// of the allowed prefixes. A namespace without the ConfigMap is not the
// policy's business. No webhook: kube-apiserver evaluates it in process.
func OwnersPolicy() (*admissionv1.ValidatingAdmissionPolicy, *admissionv1.ValidatingAdmissionPolicyBinding) {
	groups := guardedResources()
	groups["source.toolkit.fluxcd.io"] = sourceResources()
	var rules []admissionv1.NamedRuleWithOperations
	for _, group := range SortedKeys(groups) {
		rules = append(rules, admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
			Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: groups[group]},
		}})
	}
	fail := admissionv1.Fail
	lines := func(key string) string {
		return fmt.Sprintf("%[1]q in variables.data ? variables.data[%[1]q].split('\\n') : []", key)
	}
	quotedSources := "'" + strings.Join(sourceResources(), "', '") + "'"
	policy := &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: OwnersPolicyName, Labels: map[string]string{ManagedByLabelKey: ManagedByValue}},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			ParamKind:     &admissionv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"},
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: FluxTenantLabelKey, Operator: metav1.LabelSelectorOpExists},
				}},
				ResourceRules: rules,
			},
			Variables: []admissionv1.Variable{
				{Name: "data", Expression: "has(params.data) ? params.data : {}"},
				{Name: "isOwner", Expression: "request.userInfo.username in (" + lines(PolicyUsersKey) + ") || " +
					"(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in (" + lines(PolicyGroupsKey) + ")))"},
				{Name: "isRobot", Expression: "request.userInfo.username == 'gotk:' + request.namespace + ':reconciler' || " +
					"request.userInfo.username.startsWith('system:serviceaccount:' + request.namespace + ':')"},
				{Name: "protected", Expression: "request.resource.resource + '/' + request.name in (" + lines(PolicyProtectedKey) + ")"},
				{Name: "url", Expression: "object == null || !has(object.spec) ? '' : " +
					"request.resource.resource == 'buckets' ? (has(object.spec.endpoint) ? object.spec.endpoint : '') : " +
					"(has(object.spec.url) ? object.spec.url : '')"},
				// A prefix ends at a path boundary: https://github.com/acme
				// allows https://github.com/acme/app, not
				// https://github.com/acme-evil or https://github.com/acme@evil.example.
				{Name: "allowedSource", Expression: "!(" + fmt.Sprintf("%q", PolicyAllowedSourcesKey) + " in variables.data) || " +
					"(" + lines(PolicyAllowedSourcesKey) + ").exists(p, variables.url == p || variables.url.startsWith(p.endsWith('/') ? p : p + '/'))"},
			},
			Validations: []admissionv1.Validation{
				{
					Expression: "!(variables.isOwner || variables.isRobot) || !variables.protected",
					MessageExpression: "'kubectl-tenant guardrail: ' + request.resource.resource + ' ' + request.name + " +
						"' in tenant namespace ' + request.namespace + ' is the platform\\'s; ' + request.userInfo.username + ' may not ' + " +
						"request.operation.lowerAscii() + ' it'",
					Reason: ptrTo(metav1.StatusReasonForbidden),
				},
				{
					Expression: "!(variables.isOwner || variables.isRobot) || request.operation == 'DELETE' || " +
						"!(request.resource.resource in [" + quotedSources + "]) || variables.allowedSource",
					MessageExpression: "'kubectl-tenant guardrail: ' + request.resource.resource + ' ' + request.name + " +
						"' in tenant namespace ' + request.namespace + ' may only fetch from URLs under ' + " +
						"variables.data[" + fmt.Sprintf("%q", PolicyAllowedSourcesKey) + "].replace('\\n', ', ') + ' (the tenant\\'s allowed sources)'",
					Reason: ptrTo(metav1.StatusReasonForbidden),
				},
			},
		},
	}
	notFound := admissionv1.AllowAction
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: OwnersPolicyName, Labels: map[string]string{ManagedByLabelKey: ManagedByValue}},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        OwnersPolicyName,
			ParamRef:          &admissionv1.ParamRef{Name: TenantPolicyName, ParameterNotFoundAction: &notFound},
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	return policy, binding
}

// LockdownPolicies are what bootstrap --lockdown installs beside Flux's
// flags: each policy followed by its binding.
func LockdownPolicies() []any {
	policy, binding := GuardrailPolicy()
	owners, ownersBinding := OwnersPolicy()
	return []any{policy, binding, owners, ownersBinding}
}
