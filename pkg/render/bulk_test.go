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
