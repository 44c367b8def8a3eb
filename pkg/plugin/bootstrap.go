package plugin

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/kubectl-tenant/kubectl-tenant/internal/crdwait"
	"github.com/kubectl-tenant/kubectl-tenant/internal/fluxinstall"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
	"github.com/kubectl-tenant/kubectl-tenant/pkg/tenant"
)

const bootstrapExample = `  # Install Flux and point the shared source at this checkout's origin
  kubectl tenant bootstrap

  # On an air-gapped cluster, from a local copy of Flux's install manifests
  kubectl tenant bootstrap --manifests ./flux/v2.9.5 --git-url https://git.example.com/platform/tenants

  # Confine tenants: Flux's lockdown flags and the guardrail policy (then add tenants with --confine)
  kubectl tenant bootstrap --lockdown

  # Print everything for git instead of applying
  kubectl tenant bootstrap --dry-run=client -o yaml`

// BootstrapOptions are the inputs of `kubectl tenant bootstrap`.
type BootstrapOptions struct {
	configFlags *genericclioptions.ConfigFlags
	outputFlags *outputFlags
	genericiooptions.IOStreams

	Bootstrap render.BootstrapOptions
	// ManifestsDir holds Flux's install manifests (one YAML per component,
	// rbac.yaml, policies.yaml), for clusters that cannot reach GitHub;
	// empty means download the release's.
	ManifestsDir   string
	DryRun         tenant.DryRunStrategy
	ForceConflicts bool
	Timeout        time.Duration
	// Credentials name the shared source's credentials; see
	// tenant.CredentialFlags.
	Credentials tenant.CredentialFlags
	// Wait waits until the shared source has fetched, and says why not.
	Wait bool

	gitURLLookupErr error
	output          *output
}

// NewCmdBootstrap builds `kubectl tenant bootstrap`.
func NewCmdBootstrap(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &BootstrapOptions{
		configFlags: configFlags,
		outputFlags: newObjectOutputFlags("serverside-applied"),
		IOStreams:   streams,
		Bootstrap:   render.DefaultBootstrapOptions(),
		Timeout:     2 * time.Minute,
	}
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Install Flux watching all namespaces, and the shared GitRepository",
		Long: `Install Flux's controllers into flux-system, watching all namespaces, and the
GitRepository "default" that every tenant's Kustomization builds from.

The manifests come from Flux's own generator (as "flux install" makes them) and are
server-side applied: CRDs and the namespace first, then, once the CRDs are
established, the controllers, and the GitRepository last. Running it again changes
nothing.`,
		Example: bootstrapExample,
		Args:    cobra.NoArgs,
		RunE:    runCommand(o),
	}
	f := cmd.Flags()
	b := &o.Bootstrap
	f.StringVar(&b.Version, "version", b.Version, "Flux version to install")
	f.StringSliceVar(&b.Components, "components", b.Components, "Flux controllers to install")
	f.StringVar(&o.ManifestsDir, "manifests", "", "Directory of Flux install manifests to use instead of downloading them (air-gapped clusters)")
	f.BoolVar(&b.NetworkPolicy, "network-policy", b.NetworkPolicy, "Install Flux's network policies")
	f.BoolVar(&b.Lockdown, "lockdown", false, lockdownUsage())
	f.StringVar(&b.GitURL, "git-url", "", "URL of the git repository holding the per-tenant template (default: git remote get-url origin)")
	f.StringVar(&b.Branch, "branch", b.Branch, "Branch of the git repository")
	f.StringSliceVar(&b.IgnorePaths, "ignore-paths", b.IgnorePaths, "Files of the repository (gitignore patterns) that Flux leaves out of the artifact tenants build from, such as scripts and documents that are not manifests")
	f.DurationVar(&b.Interval, "interval", b.Interval, "How often Flux fetches the repository")
	f.BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take ownership of fields another field manager owns")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the CRDs to be established, and with --wait for the shared source to fetch")
	f.BoolVar(&o.Wait, "wait", false, "Wait until the shared GitRepository has fetched the repository; if it cannot, print Flux's reason and the fix")
	o.Credentials.AddFlags(f, "the shared source")
	addDryRunFlag(cmd, &o.DryRun)
	o.outputFlags.addFlags(cmd)
	o.outputFlags.addSecretsFlag(cmd)
	return cmd
}

// lockdownUsage says what --lockdown does, from render's own flags and
// policy name, so that the help cannot fall behind them.
func lockdownUsage() string {
	return fmt.Sprintf("Run kustomize-controller with Flux's lockdown flags %s (any other Flux controller installed with those it takes) "+
		"and install the ValidatingAdmissionPolicies %s (the tenant's robots may not change the platform's objects) and %s (nor may its owners, and their sources fetch only from the tenant's allowed URLs), "+
		"so that tenants are confined to their RBAC; tenants must then be added with --confine",
		strings.Join(render.LockdownArgs("kustomize-controller"), " "), render.GuardrailPolicyName, render.OwnersPolicyName)
}

// Complete fills in the git URL from the current checkout, as the demo
// meant to, and builds the printer.
func (o *BootstrapOptions) Complete(cmd *cobra.Command, args []string) error {
	if o.Bootstrap.GitURL == "" {
		out, err := exec.Command("git", "remote", "get-url", "origin").Output()
		if err != nil {
			o.gitURLLookupErr = err
		} else {
			o.Bootstrap.GitURL = strings.TrimSpace(string(out))
		}
	}
	var err error
	o.output, err = o.outputFlags.toOutput(o.DryRun)
	return err
}

// Validate checks every value before anything is fetched or sent.
func (o *BootstrapOptions) Validate() error {
	if o.Bootstrap.GitURL == "" && o.gitURLLookupErr != nil {
		return fmt.Errorf("--git-url is required: \"git remote get-url origin\" found none here (%v)", o.gitURLLookupErr)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: must be greater than zero", o.Timeout)
	}
	if err := o.Bootstrap.Validate(); err != nil {
		return err
	}
	if err := o.Credentials.Validate(); err != nil {
		return err
	}
	if o.Wait && o.DryRun != tenant.DryRunNone {
		return fmt.Errorf("--wait cannot be combined with --dry-run=%s: nothing is applied to wait for", o.DryRun)
	}
	if o.ManifestsDir != "" {
		return fluxinstall.CheckDir(o.ManifestsDir, o.Bootstrap.Components)
	}
	return nil
}

// Run generates Flux's install manifests and renders the bootstrap; it
// prints them (--dry-run=client), or applies the CRDs and namespace, waits
// for the CRDs, then applies the rest.
func (o *BootstrapOptions) Run(ctx context.Context) error {
	var c *tenant.Clients
	if o.DryRun != tenant.DryRunClient {
		var err error
		if c, err = newClients(o.configFlags, o.ErrOut, 0, 0); err != nil {
			return err
		}
	}
	resolved, err := o.resolveCredentials(ctx, c)
	if err != nil {
		return err
	}
	install, err := fluxinstall.Generate(o.Bootstrap.InstallOptions(), o.ManifestsDir)
	if err != nil {
		return err
	}
	b, err := render.RenderBootstrap(o.Bootstrap, install)
	if err != nil {
		return err
	}
	objects, err := b.Unstructured()
	if err != nil {
		return err
	}
	if o.DryRun == tenant.DryRunClient {
		o.printDeployKey(resolved)
		return o.output.printAll(o.Out, objects)
	}
	if err := o.install(ctx, c, objects); err != nil {
		return err
	}
	if o.output.human() && o.DryRun == tenant.DryRunNone {
		fmt.Fprintf(o.Out, "Flux %s installed in %s, watching all namespaces; GitRepository %s/%s follows %s (branch %s).\n",
			o.Bootstrap.Version, render.FluxNamespace, render.FluxNamespace, o.Bootstrap.SourceName, o.Bootstrap.GitURL, o.Bootstrap.Branch)
	}
	o.printDeployKey(resolved)
	if o.Wait {
		return o.waitSource(ctx, c)
	}
	return nil
}

// install applies the CRDs and namespace, waits for the CRDs, then
// applies the rest.
func (o *BootstrapOptions) install(ctx context.Context, c *tenant.Clients, objects []*unstructured.Unstructured) error {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Discovery))
	a := &tenant.Applier{Client: c.Dynamic, Mapper: mapper, DryRun: o.DryRun, ForceConflicts: o.ForceConflicts}

	var first, rest []*unstructured.Unstructured
	var crds []string
	for _, obj := range objects {
		switch obj.GetKind() {
		case "CustomResourceDefinition":
			crds = append(crds, obj.GetName())
			first = append(first, obj)
		case "Namespace":
			first = append(first, obj)
		default:
			rest = append(rest, obj)
		}
	}
	if err := o.applyAll(ctx, a, first); err != nil {
		return err
	}
	if o.DryRun == tenant.DryRunNone {
		if err := o.waitEstablished(ctx, c, crds); err != nil {
			return err
		}
	}
	// The CRDs just applied are new kinds to discovery.
	mapper.Reset()
	return o.applyAll(ctx, a, rest)
}

// resolveCredentials reads the credentials the flags name, keeping the
// SSH key and host key of the Secret the shared source reads now, so a
// deploy key registered once stays valid across re-runs.
func (o *BootstrapOptions) resolveCredentials(ctx context.Context, c *tenant.Clients) (tenant.Resolved, error) {
	o.Bootstrap.SecretRef = o.Credentials.SecretRef
	o.Bootstrap.AllowInsecureHTTP = o.Credentials.AllowInsecureHTTP
	var stored map[string][]byte
	if c != nil && !o.Credentials.RotateKey {
		var err error
		stored, err = tenant.SecretData(ctx, c, render.FluxNamespace, render.BootstrapSecretName)
		if err != nil {
			return tenant.Resolved{}, fmt.Errorf("reading the shared source's Secret %s/%s: %w", render.FluxNamespace, render.BootstrapSecretName, err)
		}
	}
	resolved, err := o.Credentials.Resolve(ctx, o.Bootstrap.GitURL, o.In, stored)
	if err != nil {
		return resolved, err
	}
	o.Bootstrap.Credentials = resolved.Credentials
	return resolved, o.Bootstrap.Validate()
}

// printDeployKey says what to do with a key this run made, on stderr so
// that it never mixes with output meant for git.
func (o *BootstrapOptions) printDeployKey(r tenant.Resolved) {
	if r.Insecure {
		fmt.Fprintln(o.ErrOut, tenant.InsecureWarning(o.Bootstrap.GitURL))
	}
	switch {
	case r.GeneratedKey != "":
		fmt.Fprintf(o.ErrOut, "Add this public key to %s as a read-only deploy key; Flux fetches with it:\n%s\n", o.Bootstrap.GitURL, r.GeneratedKey)
	case r.KeptKey:
		fmt.Fprintf(o.ErrOut, "Kept the SSH key of Secret %s/%s (its deploy key stays valid; --rotate-key makes a new one).\n", render.FluxNamespace, render.BootstrapSecretName)
	}
}

// waitSource waits until the shared source has fetched, and otherwise
// says why in Flux's words, with the fix for a credential failure.
func (o *BootstrapOptions) waitSource(ctx context.Context, c *tenant.Clients) error {
	secret := ""
	if o.Bootstrap.Credentials != nil {
		secret = render.FluxNamespace + "/" + render.BootstrapSecretName
	} else if o.Bootstrap.SecretRef != "" {
		secret = render.FluxNamespace + "/" + o.Bootstrap.SecretRef
	}
	message, err := tenant.RequestReady(ctx, c.Dynamic, tenant.SourceResource("GitRepository"), render.FluxNamespace, o.Bootstrap.SourceName, o.Timeout)
	if err != nil {
		return tenant.SourceNotReady("GitRepository", render.FluxNamespace, o.Bootstrap.SourceName, secret, message)
	}
	if o.output.human() {
		fmt.Fprintf(o.Out, "GitRepository %s/%s is Ready: %s\n", render.FluxNamespace, o.Bootstrap.SourceName, tenant.OneLine(message))
	}
	return nil
}

func (o *BootstrapOptions) applyAll(ctx context.Context, a *tenant.Applier, objs []*unstructured.Unstructured) error {
	warned := false
	for _, obj := range objs {
		applied, err := a.Apply(ctx, obj)
		if err != nil && o.DryRun == tenant.DryRunServer && (meta.IsNoMatchError(err) || isMissingNamespace(err, obj.GetNamespace())) {
			// A server dry run creates neither the CRDs nor the namespace,
			// so what depends on them can only be shown as rendered.
			if !warned {
				fmt.Fprintf(o.ErrOut, "Warning: the server could not check objects that need CRDs or namespaces this dry run did not create; they are printed as rendered\n")
				warned = true
			}
			applied, err = obj, nil
		}
		if err != nil {
			return err
		}
		if err := o.output.printObj(o.Out, applied); err != nil {
			return err
		}
	}
	return nil
}

// waitEstablished waits until the API server serves every CRD, so that the
// objects of those kinds can be applied.
func (o *BootstrapOptions) waitEstablished(ctx context.Context, c *tenant.Clients, names []string) error {
	return crdwait.WaitEstablished(ctx, c.Dynamic, names, o.Timeout)
}

// isMissingNamespace reports whether err says obj's namespace does not exist.
func isMissingNamespace(err error, namespace string) bool {
	if !apierrors.IsNotFound(err) {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	d := status.Status().Details
	return d.Kind == "namespaces" && d.Name == namespace
}
