package tenant

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// Condition is the part of a Flux status condition that judgements read.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// notReconciled is what an object without a Ready condition says.
const notReconciled = "waiting to be reconciled"

// Readiness is the one reading of a Flux object's Ready condition that
// every command shares: its status ("True", "False" or "Unknown") and
// message, as of the generation the controller has seen. A Ready condition
// written for an older generation than the object's says nothing about the
// current spec, so it reads as Unknown until the controller catches up.
func Readiness(generation, observedGeneration int64, conditions []Condition) (status, message string) {
	for _, c := range conditions {
		if c.Type != "Ready" {
			continue
		}
		if observedGeneration < generation {
			return "Unknown", c.Message
		}
		return c.Status, c.Message
	}
	return "Unknown", notReconciled
}

// ReadinessOf reads Readiness off an object as the dynamic client returns
// it.
func ReadinessOf(obj *unstructured.Unstructured) (status, message string) {
	observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	return Readiness(obj.GetGeneration(), observed, ConditionsOf(obj))
}

// ConditionsOf reads an object's status conditions in order.
func ConditionsOf(obj *unstructured.Unstructured) []Condition {
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	out := make([]Condition, 0, len(raw))
	for _, c := range raw {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		out = append(out, Condition{Type: str("type"), Status: str("status"), Reason: str("reason"), Message: str("message")})
	}
	return out
}
