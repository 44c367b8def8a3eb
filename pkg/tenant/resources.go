package tenant

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
)

// The resources a tenant is made of, and those that commands read about it.
var (
	NamespaceGVR              = corev1.SchemeGroupVersion.WithResource("namespaces")
	ConfigMapGVR              = corev1.SchemeGroupVersion.WithResource("configmaps")
	ServiceAccountGVR         = corev1.SchemeGroupVersion.WithResource("serviceaccounts")
	SecretGVR                 = corev1.SchemeGroupVersion.WithResource("secrets")
	EventGVR                  = corev1.SchemeGroupVersion.WithResource("events")
	ResourceQuotaGVR          = corev1.SchemeGroupVersion.WithResource("resourcequotas")
	LimitRangeGVR             = corev1.SchemeGroupVersion.WithResource("limitranges")
	RoleBindingGVR            = rbacv1.SchemeGroupVersion.WithResource("rolebindings")
	NetworkPolicyGVR          = networkingv1.SchemeGroupVersion.WithResource("networkpolicies")
	DeploymentGVR             = appsv1.SchemeGroupVersion.WithResource("deployments")
	KustomizationGVR          = kustomizev1.GroupVersion.WithResource("kustomizations")
	PolicyGVR                 = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}
	PolicyBindingGVR          = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicybindings"}
	SubjectAccessReviewGVR    = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "subjectaccessreviews"}
	selfSubjectRulesReviewGVR = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectrulesreviews"}
	// SourceGroupVersion is the API of Flux's sources.
	SourceGroupVersion = schema.GroupVersion{Group: "source.toolkit.fluxcd.io", Version: "v1"}
)

// SourceResource is the resource of a Flux source kind: gitrepositories
// for GitRepository.
func SourceResource(kind string) schema.GroupVersionResource {
	plural, _ := meta.UnsafeGuessKindToResource(SourceGroupVersion.WithKind(kind))
	return plural
}

// Scope is the namespace to read a selection's objects in: the one
// namespace when there is exactly one, so that a cluster of ten thousand
// tenants is not read for one, else "" for all of them.
func Scope(namespaces []string) string {
	if len(namespaces) == 1 {
		return namespaces[0]
	}
	return ""
}
