package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubeconfigFor writes a kubeconfig whose cluster is server.
func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
users:
- name: u
  user: {token: some-token}
`, server)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWithHint(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + closed.Addr().String()
	closed.Close()

	unauthorized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
	}))
	defer unauthorized.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	defer close(release)

	for _, tc := range []struct {
		name   string
		args   []string
		server string
		want   string
	}{
		{"connection refused", nil, refusedURL, "nothing answers at " + refusedURL + ": is the cluster running"},
		{"unauthorized", nil, unauthorized.URL, "did not accept your credentials"},
		{"timeout", []string{"--request-timeout=100ms"}, slow.URL, "did not answer in time: check the connection, or raise --request-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"list", "--kubeconfig", kubeconfigFor(t, tc.server)}, tc.args...)
			_, _, err := runTenant(t, args...)
			if err == nil {
				t.Fatal("list succeeded")
			}
			if got := WithHint(err).Error(); !strings.Contains(got, tc.want) {
				t.Errorf("WithHint(%v) = %q, want it to contain %q", err, got, tc.want)
			}
		})
	}

	if WithHint(nil) != nil {
		t.Error("WithHint(nil) is not nil")
	}
	for _, plain := range []error{
		errors.New(`invalid namespace "Foo"`),
		// --wait's own deadline is not a request timeout.
		fmt.Errorf("waiting for namespace %q to be deleted: %w", "foo", context.DeadlineExceeded),
	} {
		if got := WithHint(plain); got != plain {
			t.Errorf("WithHint changed an error it has no hint for: %v", got)
		}
	}
}
