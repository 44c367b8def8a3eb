package plugin

import (
	"errors"
	"fmt"
	"net/url"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// WithHint adds what to do to the errors whose fix the user controls but
// the transport or API error alone does not name, as kubectl's "did you
// specify the right host or port?" does.
func WithHint(err error) error {
	if err == nil {
		return nil
	}
	server := "the API server"
	var urlErr *url.Error // stays nil unless a request failed
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			server = u.Scheme + "://" + u.Host
		}
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w (nothing answers at %s: is the cluster running, and are --kubeconfig and --context the right ones?)", err, server)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%w (%s did not accept your credentials: log in again or pick another --context)", err, server)
	// Only a request's own timeout: --wait and bootstrap's CRD wait end
	// in context.DeadlineExceeded too, and --request-timeout is not theirs.
	case urlErr != nil && urlErr.Timeout():
		return fmt.Errorf("%w (%s did not answer in time: check the connection, or raise --request-timeout)", err, server)
	}
	return err
}
