package tenant

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/kubectl-tenant/kubectl-tenant/pkg/render"
)

// Selection is how every command that works on existing tenants
// picks them: tenant namespaces as arguments, --tenant-name, -l and --all.
// It checks each namespace it yields, so no command acts on a namespace
// that is not a tenant's.
type Selection struct {
	LabelKey   string
	Namespaces []string
	Name       string
	Selector   string
	All        bool
	ChunkSize  int64
	// AllByDefault makes an empty selection mean every tenant, as for
	// list; otherwise it is an error.
	AllByDefault bool
	// NotMembers are the namespaces that carry Name in the tenant label
	// but that kubectl tenant did not make the tenant's (see IsMember):
	// --tenant-name leaves them out, and commands name them.
	NotMembers []string
	// Notes, when set, is told of each of NotMembers as it is found.
	Notes io.Writer

	selector labels.Selector // built by validate
}

// NewSelection selects tenants by the demo's label.
func NewSelection(allByDefault bool) *Selection {
	return &Selection{LabelKey: render.DefaultTenantLabelKey, ChunkSize: DefaultChunkSize, AllByDefault: allByDefault}
}

// Complete takes the namespaces given as arguments, each once.
func (s *Selection) Complete(args []string) {
	for _, ns := range args {
		if !slices.Contains(s.Namespaces, ns) {
			s.Namespaces = append(s.Namespaces, ns)
		}
	}
}

// Validate checks the selection and builds its label selector.
func (s *Selection) Validate() error {
	for _, ns := range s.Namespaces {
		if err := render.ValidateNamespaceName(ns); err != nil {
			return err
		}
	}
	if s.Name != "" {
		if err := render.ValidateTenantName(s.Name); err != nil {
			return err
		}
	}
	if err := render.ValidateLabelKey(s.LabelKey); err != nil {
		return err
	}
	if s.ChunkSize < 0 {
		return fmt.Errorf("invalid --chunk-size %d: must be 0 or more", s.ChunkSize)
	}
	switch {
	case len(s.Namespaces) > 0 && s.All:
		return fmt.Errorf("tenant namespaces (%s) cannot be combined with --all: give either", strings.Join(s.Namespaces, ", "))
	case len(s.Namespaces) > 0 && s.Selector != "":
		return fmt.Errorf("tenant namespaces (%s) cannot be combined with -l %q: give either", strings.Join(s.Namespaces, ", "), s.Selector)
	case s.All && s.Name != "":
		return fmt.Errorf("--all cannot be combined with --tenant-name %q: --all selects every tenant", s.Name)
	case s.All && s.Selector != "":
		return fmt.Errorf("--all cannot be combined with -l %q: --all selects every tenant", s.Selector)
	case !s.AllByDefault && len(s.Namespaces) == 0 && s.Name == "" && s.Selector == "" && !s.All:
		return fmt.Errorf("no tenant selected: give tenant namespaces, --tenant-name, -l SELECTOR or --all")
	}
	tenant, err := labels.NewRequirement(s.LabelKey, selection.Exists, nil)
	if err != nil {
		return fmt.Errorf("invalid --tenant-label %q: %w", s.LabelKey, err)
	}
	s.selector = labels.NewSelector().Add(*tenant)
	if s.Name != "" {
		named, err := labels.NewRequirement(s.LabelKey, selection.Equals, []string{s.Name})
		if err != nil {
			return fmt.Errorf("invalid --tenant-name %q: %w", s.Name, err)
		}
		s.selector = s.selector.Add(*named)
	}
	extra, err := labels.Parse(s.Selector)
	if err != nil {
		return fmt.Errorf("invalid selector %q: %w", s.Selector, err)
	}
	reqs, _ := extra.Requirements()
	s.selector = s.selector.Add(reqs...)
	return nil
}

// noteNotMember records a namespace --tenant-name left out, and tells
// Notes of it.
func (s *Selection) noteNotMember(ns string) {
	s.NotMembers = append(s.NotMembers, ns)
	if s.Notes != nil {
		fmt.Fprintln(s.Notes, s.NotMemberNote(ns))
	}
}

// NotMemberNote says why a namespace was left out, and how to name it.
func (s *Selection) NotMemberNote(ns string) string {
	return fmt.Sprintf("namespace %s has label %s=%s but kubectl tenant did not make it tenant %s's: left out (name it with its namespace, or add it to the tenant with kubectl tenant add --tenant-name %s --tenant-namespace %s)",
		ns, s.LabelKey, s.Name, s.Name, s.Name, ns)
}

// Each visits every selected tenant namespace as metadata (protobuf),
// which is all most commands need of it, each as soon as it is read
// (MetadataPage).
func (s *Selection) Each(ctx context.Context, c *Clients, visit func(*metav1.PartialObjectMetadata) error) error {
	resource := c.Metadata.Resource(NamespaceGVR)
	raw, err := RawClient(c.Config)
	if err != nil {
		return err
	}
	return selectTenants(ctx, s,
		func(ctx context.Context, name string) (*metav1.PartialObjectMetadata, error) {
			return resource.Get(ctx, name, metav1.GetOptions{})
		},
		func(ctx context.Context, opts metav1.ListOptions, yield func(*metav1.PartialObjectMetadata) error) (string, error) {
			return MetadataPage(ctx, raw, ResourcePath(NamespaceGVR, ""), opts, yield)
		}, visit)
}

// EachObject visits every selected tenant namespace as the whole object,
// for commands that print it.
func (s *Selection) EachObject(ctx context.Context, c *Clients, visit func(*unstructured.Unstructured) error) error {
	resource := c.Dynamic.Resource(NamespaceGVR)
	return selectTenants(ctx, s,
		func(ctx context.Context, name string) (*unstructured.Unstructured, error) {
			return resource.Get(ctx, name, metav1.GetOptions{})
		},
		func(ctx context.Context, opts metav1.ListOptions, yield func(*unstructured.Unstructured) error) (string, error) {
			page, err := resource.List(ctx, opts)
			if err != nil {
				return "", err
			}
			for i := range page.Items {
				if err := yield(&page.Items[i]); err != nil {
					return "", err
				}
			}
			return page.GetContinue(), nil
		}, visit)
}

// selectTenants reads the named namespaces one by one, or pages through
// the ones the label selector matches, and visits each tenant namespace.
// list reads a page, yields each of its namespaces, and returns the
// continue token.
func selectTenants[T metav1.Object](ctx context.Context, s *Selection,
	get func(context.Context, string) (T, error),
	list func(context.Context, metav1.ListOptions, func(T) error) (string, error),
	visit func(T) error,
) error {
	if len(s.Namespaces) > 0 {
		for _, name := range s.Namespaces {
			ns, err := get(ctx, name)
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("tenant not found: namespace %q does not exist", name)
			}
			if err != nil {
				return fmt.Errorf("reading namespace %q: %w", name, err)
			}
			owner, labelled := ns.GetLabels()[s.LabelKey]
			if !labelled {
				return fmt.Errorf("namespace %q is not a tenant namespace (no %s label)", name, s.LabelKey)
			}
			if s.Name != "" && owner != s.Name {
				return fmt.Errorf("tenant not found: namespace %q belongs to tenant %q, not %q", name, owner, s.Name)
			}
			if err := visit(ns); err != nil {
				return err
			}
		}
		return nil
	}
	opts := metav1.ListOptions{LabelSelector: s.selector.String(), Limit: s.ChunkSize}
	return EachPage(ctx, opts, func(ctx context.Context, opts metav1.ListOptions) (string, error) {
		var visitErr error // returned as visit said it, not as a list error
		next, err := list(ctx, opts, func(ns T) error {
			// The server applied the selector already; checking again keeps
			// the guarantee local rather than trusting every server and proxy.
			if !s.selector.Matches(labels.Set(ns.GetLabels())) || render.IsReservedNamespace(ns.GetName()) {
				return nil
			}
			if s.Name != "" && !IsMember(ns, s.LabelKey, s.Name) {
				s.noteNotMember(ns.GetName())
				return nil
			}
			visitErr = visit(ns)
			return visitErr
		})
		if visitErr != nil {
			return "", visitErr
		}
		if err != nil {
			return "", fmt.Errorf("listing tenant namespaces: %w", err)
		}
		return next, nil
	})
}
