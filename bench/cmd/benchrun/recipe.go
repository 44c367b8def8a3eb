// The demo recipe's `flux create ... --export` output, fed as static YAML
// (the flux CLI is not buildable here); both phases run the recipe with it.

package main

const ksStatic = `---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: dummy
  namespace: %[1]s
spec:
  interval: 5m0s
  path: ./kustomizations/per-tenant
  prune: true
  sourceRef:
    kind: GitRepository
    name: default
    namespace: flux-system
  targetNamespace: %[1]s
`

// tenantStatic is what `flux create tenant NS --with-namespace NS --export`
// prints (the namespace, service account and role binding).
const tenantStatic = `---
apiVersion: v1
kind: Namespace
metadata:
  labels:
    toolkit.fluxcd.io/tenant: %[1]s
  name: %[1]s
---
apiVersion: v1
kind: ServiceAccount
metadata:
  labels:
    toolkit.fluxcd.io/tenant: %[1]s
  name: %[1]s
  namespace: %[1]s
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  labels:
    toolkit.fluxcd.io/tenant: %[1]s
  name: %[1]s-reconciler
  namespace: %[1]s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: gotk:%[1]s:reconciler
- kind: ServiceAccount
  name: %[1]s
  namespace: %[1]s
`

const postBuild = `.spec.postBuild = {"substitute": {"SUBST_LITERAL": "sometenant"}, "substituteFrom": [{"kind": "ConfigMap", "name": "tenant-vars"}]}`
