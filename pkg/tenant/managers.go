package tenant

// DryRunStrategy says whether and where a command only pretends to write.
// It mirrors kubectl's cmdutil.DryRunStrategy without importing
// k8s.io/kubectl/pkg/cmd/util, which would add its OpenAPI and validation
// packages to the binary and to start-up.
type DryRunStrategy int

const (
	// DryRunNone writes to the cluster.
	DryRunNone DryRunStrategy = iota
	// DryRunClient prints what would be written and contacts no cluster.
	DryRunClient
	// DryRunServer sends every write with dryRun=All.
	DryRunServer
)

func (s DryRunStrategy) String() string {
	switch s {
	case DryRunClient:
		return "client"
	case DryRunServer:
		return "server"
	default:
		return "none"
	}
}

// FieldManager is the server-side apply field manager of every write of a
// tenant's settings.
const FieldManager = "kubectl-tenant"

// The field managers of suspend, resume and reconcile. They are not
// FieldManager on purpose: server-side apply removes a field that its
// manager stops applying, so if "kubectl-tenant" applied spec.suspend, the
// next `add` of the tenant (whose render has no spec.suspend) would drop
// it and silently resume a suspended tenant. A manager of its own that owns
// spec.suspend alone keeps a suspension until resume, whatever add does.
//
// Their names do not start with "kubectl": kustomize-controller takes over,
// each time it applies, the fields of every manager whose name does (to
// undo kubectl apply and edit), so on a tenant that lives in git a
// suspension so named would be dropped at the tree's next reconcile.
const (
	// SuspendFieldManager owns spec.suspend of the tenants' Kustomizations.
	SuspendFieldManager = "tenant-suspend"
	// ReconcileFieldManager writes the reconcile.fluxcd.io/requestedAt
	// annotation, as a merge patch like the flux CLI's.
	ReconcileFieldManager = "tenant-reconcile"
)
