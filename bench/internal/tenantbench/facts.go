package tenantbench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CheckedNamespaces returns the tenant namespaces in the report of `check
// -o json` (a CheckReport: one entry in .tenants[] per tenant), sorted: a
// benchmark compares them with what it added, so that it cannot time a
// check that saw nothing.
func CheckedNamespaces(out []byte) ([]string, error) {
	var report struct {
		Kind    string
		Tenants []struct{ Namespace string }
	}
	// Decode only the first value: what follows (stderr, when a caller
	// appended it) is not the report.
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&report); err != nil {
		return nil, fmt.Errorf("check -o json: %w", err)
	}
	if report.Kind != "CheckReport" {
		return nil, fmt.Errorf("check -o json printed a %q, not a CheckReport", report.Kind)
	}
	var namespaces []string
	for _, t := range report.Tenants {
		namespaces = append(namespaces, t.Namespace)
	}
	slices.Sort(namespaces)
	return namespaces, nil
}

// DescribedNamespaces returns the tenant namespaces in the output of
// `describe -o json`: a List of TenantDescriptions, or one
// TenantDescription for a single tenant; sorted.
func DescribedNamespaces(out []byte) ([]string, error) {
	type description struct{ Kind, Namespace string }
	var list struct {
		description
		Items []description
	}
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&list); err != nil {
		return nil, fmt.Errorf("describe -o json: %w", err)
	}
	items := list.Items
	switch list.Kind {
	case "List":
	case "TenantDescription":
		items = []description{list.description}
	default:
		return nil, fmt.Errorf("describe -o json printed a %q, not a List or TenantDescription", list.Kind)
	}
	var namespaces []string
	for _, d := range items {
		if d.Kind != "TenantDescription" {
			return nil, fmt.Errorf("describe -o json: a %q in the List", d.Kind)
		}
		namespaces = append(namespaces, d.Namespace)
	}
	slices.Sort(namespaces)
	return namespaces, nil
}

// requestLine matches a request in a -v=6 log: client-go 0.37 (the
// plugin) logs `"Response" verb="GET" url="https://..." status="200 OK"`,
// kubectl 1.32 `round_trippers.go:560] GET https://... 200 OK in 3 milliseconds`.
var requestLine = regexp.MustCompile(`"Response" verb="([A-Z]+)" url="([^"]+)"|\] ([A-Z]+) (https?://\S+) \d{3} `)

// Request is one request of a -v=6 log.
type Request struct {
	Verb string
	URL  *url.URL
}

// Requests returns the requests a -v=6 log records, in order.
func Requests(log []byte) []Request {
	var out []Request
	for _, m := range requestLine.FindAllSubmatch(log, -1) {
		verb, raw := string(m[1])+string(m[3]), string(m[2])+string(m[4])
		u, err := url.Parse(raw)
		if err != nil {
			u = &url.URL{Path: raw}
		}
		out = append(out, Request{Verb: verb, URL: u})
	}
	return out
}

// Pattern is the request with its namespace and object names replaced by
// {ns} and {name}, and its query by the parameters' names, with the
// values of fieldSelector's and labelSelector's keys kept: requests that
// differ only in which tenant they are for share a pattern, and a list
// differs from a get.
//
//	GET /api/v1/namespaces/t-0001/events?fieldSelector=involvedObject.kind%3DKustomization,...&limit=500
//	-> GET /api/v1/namespaces/{ns}/events?fieldSelector(involvedObject.kind,...)&limit
func (r Request) Pattern() string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i := range parts {
		switch {
		case i > 0 && parts[i-1] == "namespaces":
			parts[i] = "{ns}"
		case resourceName(parts, i):
			parts[i] = "{name}"
		}
	}
	var query []string
	for key, values := range r.URL.Query() {
		if key == "fieldSelector" || key == "labelSelector" {
			var keys []string
			for _, term := range strings.Split(strings.Join(values, ","), ",") {
				keys = append(keys, strings.FieldsFunc(term, func(c rune) bool { return c == '=' || c == '!' })[0])
			}
			key += "(" + strings.Join(keys, ",") + ")"
		}
		query = append(query, key)
	}
	slices.Sort(query)
	p := r.Verb + " /" + strings.Join(parts, "/")
	if len(query) > 0 {
		p += "?" + strings.Join(query, "&")
	}
	return p
}

// resourceName says whether parts[i] names an object: the segment after a
// resource in /api/v1/[namespaces/NS/]RESOURCE/NAME or
// /apis/GROUP/VERSION/[namespaces/NS/]RESOURCE/NAME (a subresource follows
// the name). A namespace's own path, /api/v1/namespaces/NAME, is handled
// by the caller.
func resourceName(parts []string, i int) bool {
	prefix := 2 // api, v1
	if len(parts) > 0 && parts[0] == "apis" {
		prefix = 3 // apis, group, version
	}
	rest := i - prefix
	if rest < 0 || len(parts) <= prefix {
		return false
	}
	if parts[prefix] == "namespaces" && len(parts) > prefix+2 {
		rest -= 2 // namespaces/NS/
	}
	return rest == 1
}

// PatternCount is how often a request pattern occurs in a log.
type PatternCount struct {
	Pattern string
	Count   int
}

// CountPatterns counts the requests of a -v=6 log by Pattern, the most
// frequent first.
func CountPatterns(log []byte) []PatternCount {
	counts := map[string]int{}
	for _, r := range Requests(log) {
		counts[r.Pattern()]++
	}
	var out []PatternCount
	for p, n := range counts {
		out = append(out, PatternCount{p, n})
	}
	slices.SortFunc(out, func(a, b PatternCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Pattern, b.Pattern)
	})
	return out
}

// throttleLine matches client-go's note (-v=4 and up) that a request waited
// for its client's rate limiter.
var throttleLine = regexp.MustCompile(`"Waited before sending request" delay="([^"]+)" reason="client-side throttling`)

// Throttled returns how many requests of a -v=4 (or higher) log waited for
// client-side throttling, and how long in total.
func Throttled(log []byte) (int, time.Duration) {
	var n int
	var total time.Duration
	for _, m := range throttleLine.FindAllSubmatch(log, -1) {
		d, err := time.ParseDuration(string(m[1]))
		if err != nil {
			continue
		}
		n++
		total += d
	}
	return n, total
}
