package tenant

import "testing"

func TestReadiness(t *testing.T) {
	ready := []Condition{{Type: "Reconciling", Status: "False"}, {Type: "Ready", Status: "True", Message: "Applied revision: main@sha1:1"}}
	failed := []Condition{{Type: "Ready", Status: "False", Message: "kustomization path not found"}}
	for _, tc := range []struct {
		name                 string
		generation, observed int64
		conditions           []Condition
		status, message      string
	}{
		{"no status yet", 1, 0, nil, "Unknown", "waiting to be reconciled"},
		{"Ready for its generation", 2, 2, ready, "True", "Applied revision: main@sha1:1"},
		{"Ready for an older generation", 3, 2, ready, "Unknown", "Applied revision: main@sha1:1"},
		{"failed for its generation", 2, 2, failed, "False", "kustomization path not found"},
		{"failed for an older generation", 3, 2, failed, "Unknown", "kustomization path not found"},
	} {
		status, message := Readiness(tc.generation, tc.observed, tc.conditions)
		if status != tc.status || message != tc.message {
			t.Errorf("%s: Readiness = %s %q, want %s %q", tc.name, status, message, tc.status, tc.message)
		}
	}
}
