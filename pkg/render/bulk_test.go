package render

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTenantListCSVAndYAML(t *testing.T) {
	want := []TenantEntry{
		{Namespace: "foo", Name: "sometenant"},
		{Namespace: "bar", Name: "othertenant", Vars: map[string]string{"REGION": "eu-west-1", "TIER": "gold=1"}},
	}
	for name, in := range map[string]string{
		"csv":             "foo,sometenant\nbar,othertenant,REGION=eu-west-1,TIER=gold=1\n",
		"csv with header": "namespace,name\n# a comment\n\nfoo, sometenant\nbar,othertenant,REGION=eu-west-1,TIER=gold=1",
		"yaml":            "- namespace: foo\n  name: sometenant\n- namespace: bar\n  name: othertenant\n  vars: {REGION: eu-west-1, TIER: gold=1}\n",
		"json":            `[{"namespace":"foo","name":"sometenant"},{"namespace":"bar","name":"othertenant","vars":{"REGION":"eu-west-1","TIER":"gold=1"}}]`,
	} {
		got, err := ParseTenantList([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
}

func TestParseTenantListRejects(t *testing.T) {
	for in, wantErr := range map[string]string{
		"":                                   "lists no tenants",
		"# only a comment\n":                 "lists no tenants",
		"foo\n":                              "line 1: want namespace,name",
		"foo,a\nBar,b\n":                     `tenant 2 (Bar): invalid --tenant-namespace "Bar"`,
		"foo,a b\n":                          "invalid --tenant-name",
		"foo,a\nfoo,b\n":                     `namespace "foo" is listed twice`,
		"foo,a,NOEQUALS\n":                   `variable "NOEQUALS" must be KEY=VALUE`,
		"foo,a,X=1,X=2\n":                    "variable X is given twice",
		"foo,a,BAD-KEY=1\n":                  `invalid --var name "BAD-KEY"`,
		"kube-system,a\n":                    "reserved",
		"- namespace: foo\n  nmae: a\n":      "YAML list",
		"- namespace: foo\n":                 `invalid --tenant-name "": must not be empty`,
		"foo,\"unterminated\n":               "reading the tenant file as CSV",
		"- {namespace: x, name: y, vars: 1}": "YAML list",
	} {
		_, err := ParseTenantList([]byte(in))
		if err == nil {
			t.Errorf("%q: accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: error %q does not contain %q", in, err, wantErr)
		}
	}
}

func TestParseTeamTenantList(t *testing.T) {
	entries, err := ParseTenantList([]byte(`- name: payments
  namespaces: [payments-dev, {name: payments-prod, path: ./prod, vars: {STAGE: prod}}]
  owners: ["User:alice=admin"]
  allowedSources: ["https://github.com/acme/"]
`))
	if err != nil {
		t.Fatal(err)
	}
	got := entries[0].NamespaceEntries()
	want := []NamespaceEntry{{Name: "payments-dev"}, {Name: "payments-prod", Path: "./prod", Vars: map[string]string{"STAGE": "prod"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("namespaces = %+v, want %+v", got, want)
	}
	for name, tc := range map[string]struct{ file, want string }{
		"namespace under two tenants": {"- {name: a, namespaces: [ns-x, ns-y]}\n- {name: b, namespaces: [ns-y]}\n", `tenant 2 (b): namespace "ns-y" is listed twice (first as tenant 1)`},
		"both forms":                  {"- {name: a, namespace: ns-x, namespaces: [ns-y]}\n", "give either namespace (with vars) or namespaces"},
		"unknown namespace field":     {"- {name: a, namespaces: [{name: x, paht: ./x}]}\n", `unknown field "paht"`},
		"unquoted yes":                {"- {name: a, namespaces: [yes]}\n", "namespace true is not a name or {name, vars, path}: quote it"},
		"owner without kind":          {"- {name: a, namespaces: [x], owners: [alice]}\n", `tenant 1 (a): invalid --owner "alice"`},
		"empty allowed source":        {"- {name: a, namespaces: [x], allowedSources: ['']}\n", `tenant 1 (a): invalid --allow-source ""`},
	} {
		_, err := ParseTenantList([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}
