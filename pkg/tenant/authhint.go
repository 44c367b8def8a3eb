package tenant

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// SourceFix says, for a Flux source's not-Ready message, what to do about
// it when the cause is its credentials: the fix, or "" for any other
// cause. secret names the Secret the source reads ("" for none).
func SourceFix(message, secret string) string {
	m := strings.ToLower(message)
	where := "the source's Secret"
	if secret != "" {
		where = "Secret " + secret
	}
	switch {
	case strings.Contains(m, "knownhosts: key mismatch") || strings.Contains(m, "knownhosts: key is unknown") || strings.Contains(m, "host key mismatch"):
		return "the git server's host key is not the one in known_hosts of " + where + ": check the server, then give its key with --known-hosts FILE"
	case strings.Contains(m, "unable to authenticate") || strings.Contains(m, "no supported methods remain") || strings.Contains(m, "permission denied (publickey)"):
		return "the git server does not accept the SSH key in " + where + ": add its public key (identity.pub) as a read-only deploy key, or give --private-key-file"
	case strings.Contains(m, "authentication required") || strings.Contains(m, "authorization failed") || strings.Contains(m, "401") || strings.Contains(m, "403 forbidden") || strings.Contains(m, "invalid username or password"):
		if secret == "" {
			return "the git server asks for credentials: give --username with --password-file (or --password-stdin), a bearer token, an SSH key or --secret-ref"
		}
		return "the git server refused the credentials in " + where + ": check --username and the password or token, and run again"
	case strings.Contains(m, "x509:") || strings.Contains(m, "certificate signed by unknown authority"):
		return "the git server's certificate is not trusted: give its CA with --ca-file"
	case strings.Contains(m, "secrets \"") && strings.Contains(m, "not found"):
		return where + " does not exist: create it, or fix --secret-ref"
	}
	return ""
}

// WaitObjectReady waits until the Flux object is Ready for its current
// generation and returns its last Ready message either way.
func WaitObjectReady(ctx context.Context, client dynamic.Interface, gvr schema.GroupVersionResource, namespace, name string, timeout time.Duration) (string, error) {
	return waitJudged(ctx, client, gvr, namespace, name, "", timeout)
}

// RequestReady asks a Flux source to fetch now, as flux reconcile source
// does, and waits until it has handled that request: Ready then, or not
// Ready with Flux's reason. Without the request, a source whose Secret
// changed would still show the Ready of its last fetch.
func RequestReady(ctx context.Context, client dynamic.Interface, gvr schema.GroupVersionResource, namespace, name string, timeout time.Duration) (string, error) {
	requestedAt := time.Now().Format(time.RFC3339Nano)
	if _, err := requestReconcile(ctx, client.Resource(gvr).Namespace(namespace), name, requestedAt, nil); err != nil {
		return "", err
	}
	return waitJudged(ctx, client, gvr, namespace, name, requestedAt, timeout)
}

// waitJudged polls the object until Flux has handled requestedAt (when
// set) and said True or False for its current generation.
func waitJudged(ctx context.Context, client dynamic.Interface, gvr schema.GroupVersionResource, namespace, name, requestedAt string, timeout time.Duration) (string, error) {
	var message string
	var failed bool
	err := wait.PollUntilContextTimeout(ctx, sourceReadyPollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		live, err := client.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var status string
		status, message = ReadinessOf(live)
		handled, _, _ := unstructured.NestedString(live.Object, "status", "lastHandledReconcileAt")
		if requestedAt != "" && handled != requestedAt {
			return false, nil
		}
		failed = status == "False" && requestedAt != ""
		return status == "True" || failed, nil
	})
	if err == nil && failed {
		err = fmt.Errorf("not Ready: %s", message)
	}
	if err != nil && message == "" {
		message = err.Error()
	}
	return message, err
}

// SourceNotReady is the one line that says a source is not Ready, with
// Flux's reason and, when the cause is its credentials, the fix.
func SourceNotReady(kind, namespace, name, secret, message string) error {
	line := fmt.Sprintf("%s %s/%s is not Ready: %s", kind, namespace, name, OneLine(message))
	if fix := SourceFix(message, secret); fix != "" {
		line += " (" + fix + ")"
	}
	return fmt.Errorf("%s", line)
}

// SecretData reads a Secret's data, nil when there is no such Secret.
func SecretData(ctx context.Context, c *Clients, namespace, name string) (map[string][]byte, error) {
	secret, err := getSecret(ctx, c, namespace, name)
	if secret == nil || err != nil {
		return nil, err
	}
	return readSecret(secret).Data, nil
}

// getSecret reads a Secret, nil when there is no such Secret.
func getSecret(ctx context.Context, c *Clients, namespace, name string) (*unstructured.Unstructured, error) {
	secret, err := c.Dynamic.Resource(SecretGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return secret, err
}

// SourceFailure says why a source is not Ready, once Flux has said so
// (Ready False): Flux's message and, when its credentials are the cause,
// the fix; "" when it is Ready, still working, or nil.
func SourceFailure(src *unstructured.Unstructured) string {
	if src == nil {
		return ""
	}
	status, message := ReadinessOf(src)
	if status != "False" {
		return ""
	}
	secret, _, _ := unstructured.NestedString(src.Object, "spec", "secretRef", "name")
	if secret != "" {
		secret = src.GetNamespace() + "/" + secret
	}
	line := fmt.Sprintf("%s %s cannot fetch: %s", src.GetKind(), src.GetName(), OneLine(message))
	if fix := SourceFix(message, secret); fix != "" {
		line += " (" + fix + ")"
	}
	return line
}

// ExplainBySource replaces a tenant's not-Ready message with its own
// source's failure when that is the cause: a Kustomization only says its
// artifact is missing, while the source says why (say, the git server
// refused its key).
func ExplainBySource(ctx context.Context, c *Clients, f Failure, kind, name string) Failure {
	src, err := c.Dynamic.Resource(SourceResource(kind)).Namespace(f.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return f
	}
	if why := SourceFailure(src); why != "" {
		f.Message = why
	}
	return f
}
