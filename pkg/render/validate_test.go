package render

import (
	"strings"
	"testing"
	"time"
)

func TestValidateRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*TenantOptions)
		wantErr string
	}{
		{"uppercase namespace", func(o *TenantOptions) { o.Namespace = "Foo" }, `invalid --tenant-namespace "Foo"`},
		{"64-char namespace", func(o *TenantOptions) { o.Namespace = strings.Repeat("a", 64) }, "no more than 63"},
		{"leading dash", func(o *TenantOptions) { o.Namespace = "-foo" }, `invalid --tenant-namespace "-foo"`},
		{"empty namespace", func(o *TenantOptions) { o.Namespace = "" }, `invalid --tenant-namespace "": must not be empty`},
		{"unicode namespace", func(o *TenantOptions) { o.Namespace = "föö" }, `invalid --tenant-namespace "föö"`},
		{"dotted namespace", func(o *TenantOptions) { o.Namespace = "a.b" }, `invalid --tenant-namespace "a.b"`},
		{"kube-system", func(o *TenantOptions) { o.Namespace = "kube-system" }, `invalid --tenant-namespace "kube-system": the namespace is reserved`},
		{"kube-public", func(o *TenantOptions) { o.Namespace = "kube-public" }, "reserved"},
		{"kube-node-lease", func(o *TenantOptions) { o.Namespace = "kube-node-lease" }, "reserved"},
		{"default", func(o *TenantOptions) { o.Namespace = "default" }, "reserved"},
		{"flux-system", func(o *TenantOptions) { o.Namespace = "flux-system" }, "reserved"},
		{"empty name", func(o *TenantOptions) { o.Name = "" }, `invalid --tenant-name "": must not be empty`},
		{"quote in name", func(o *TenantOptions) { o.Name = `some"tenant` }, `invalid --tenant-name "some\"tenant"`},
		{"single quote in name", func(o *TenantOptions) { o.Name = `it's` }, "invalid --tenant-name"},
		{"space in name", func(o *TenantOptions) { o.Name = "some tenant" }, "invalid --tenant-name"},
		{"substitution in name", func(o *TenantOptions) { o.Name = "${X}" }, "invalid --tenant-name"},
		{"command in name", func(o *TenantOptions) { o.Name = "$(cmd)" }, "invalid --tenant-name"},
		{"backtick in name", func(o *TenantOptions) { o.Name = "`id`" }, "invalid --tenant-name"},
		{"newline in name", func(o *TenantOptions) { o.Name = "a\nb" }, "invalid --tenant-name"},
		{"64-char name", func(o *TenantOptions) { o.Name = strings.Repeat("x", 64) }, "no more than 63"},
		{"bad label key", func(o *TenantOptions) { o.LabelKey = "bad key" }, `invalid --tenant-label "bad key"`},
		{"flux label key", func(o *TenantOptions) { o.LabelKey = FluxTenantLabelKey }, "cannot hold the tenant name"},
		{"var name with dash", func(o *TenantOptions) { o.Vars = map[string]string{"MY-VAR": "x"} }, `invalid --var name "MY-VAR"`},
		{"var name with digit first", func(o *TenantOptions) { o.Vars = map[string]string{"1X": "x"} }, `invalid --var name "1X"`},
		{"var overriding PER_TENANT_SUBST", func(o *TenantOptions) { o.Vars = map[string]string{PerTenantSubstVar: "x"} }, "set by kubectl tenant"},
		{"var value with newline", func(o *TenantOptions) { o.Vars = map[string]string{"X": "a\nb: c"} }, "must not contain line breaks"},
		{"var value with DEL", func(o *TenantOptions) { o.Vars = map[string]string{"X": "a\x7fb"} }, "control character U+007F"},
		{"var value with C1 control", func(o *TenantOptions) { o.Vars = map[string]string{"X": "a\u009fb"} }, "control character U+009F"},
		{"var value with escape", func(o *TenantOptions) { o.Vars = map[string]string{"X": "\x1b[31mred"} }, "control character U+001B"},
		{"var value with noncharacter", func(o *TenantOptions) { o.Vars = map[string]string{"X": "a\ufffe"} }, "control character U+FFFE"},
		{"var value not UTF-8", func(o *TenantOptions) { o.Vars = map[string]string{"X": "a\xffb"} }, "not valid UTF-8"},
		{"var value with substitution", func(o *TenantOptions) { o.Vars = map[string]string{"X": "${Y}"} }, `"${"`},
		{"empty cluster role", func(o *TenantOptions) { o.ClusterRole = "" }, `invalid --cluster-role "": must not be empty`},
		{"bad cluster role", func(o *TenantOptions) { o.ClusterRole = "a/b" }, `invalid --cluster-role "a/b"`},
		{"bad kustomization name", func(o *TenantOptions) { o.KustomizationName = "Dummy" }, `invalid --kustomization-name "Dummy"`},
		{"bad source kind", func(o *TenantOptions) { o.Source.Kind = "HelmRepository" }, `source kind "HelmRepository" is not one of`},
		{"empty path", func(o *TenantOptions) { o.Path = "" }, "invalid --path"},
		{"path with control character", func(o *TenantOptions) { o.Path = "./a\x7f" }, "invalid --path"},
		{"zero interval", func(o *TenantOptions) { o.Interval = 0 }, "invalid --interval 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := sampleOptions()
			tc.mutate(&o)
			_, err := RenderTenant(o)
			if err == nil {
				t.Fatalf("RenderTenant accepted %+v", o)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") && !strings.Contains(tc.name, "newline") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestValidateAcceptsGoodInput(t *testing.T) {
	for _, mutate := range []func(*TenantOptions){
		func(o *TenantOptions) { o.Namespace = "a" },
		func(o *TenantOptions) { o.Namespace = strings.Repeat("a", 63) },
		func(o *TenantOptions) { o.Namespace = "tenant-81" },
		func(o *TenantOptions) { o.Name = "Some_Tenant.v2" },
		func(o *TenantOptions) { o.ClusterRole = "system:aggregate-to-edit" },
		func(o *TenantOptions) { o.Vars = map[string]string{"_X": "", "Y_2": `quotes "and" 'such'`} },
		func(o *TenantOptions) {
			o.Vars = map[string]string{"TEXT": "tab\there, é, 日本, 👨‍👩‍👧 (a ZWJ sequence)"}
		},
		func(o *TenantOptions) { o.Source = SourceRef{Kind: "Bucket", Name: "b"} },
		func(o *TenantOptions) { o.Interval = 30 * time.Second },
	} {
		o := sampleOptions()
		mutate(&o)
		if _, err := RenderTenant(o); err != nil {
			t.Errorf("RenderTenant(%+v): %v", o, err)
		}
	}
}

func TestParseSourceRef(t *testing.T) {
	for in, want := range map[string]SourceRef{
		"GitRepository/default.flux-system": {Kind: "GitRepository", Name: "default", Namespace: "flux-system"},
		"OCIRepository/podinfo.apps":        {Kind: "OCIRepository", Name: "podinfo", Namespace: "apps"},
		"Bucket/b":                          {Kind: "Bucket", Name: "b"},
		"default.flux-system":               {Kind: "GitRepository", Name: "default", Namespace: "flux-system"},
		"GitRepository/my.repo.flux-system": {Kind: "GitRepository", Name: "my.repo", Namespace: "flux-system"},
	} {
		got, err := ParseSourceRef(in)
		if err != nil {
			t.Errorf("ParseSourceRef(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("ParseSourceRef(%q) = %+v, want %+v", in, got, want)
		}
		if again, err := ParseSourceRef(got.String()); err != nil || again != got {
			t.Errorf("String() %q does not parse back: %+v, %v", got.String(), again, err)
		}
	}
	for _, bad := range []string{"", "HelmRepository/x.y", "GitRepository/", "GitRepository/UPPER.ns", "GitRepository/x.Bad_NS", "a/b/c", "GitRepository/.ns"} {
		_, err := ParseSourceRef(bad)
		if err == nil {
			t.Errorf("ParseSourceRef(%q) accepted", bad)
			continue
		}
		if !strings.HasPrefix(err.Error(), "invalid --source") {
			t.Errorf("ParseSourceRef(%q) error %q does not name the flag", bad, err)
		}
	}
}

func TestParseVar(t *testing.T) {
	k, v, err := ParseVar("REGION=eu=west")
	if err != nil || k != "REGION" || v != "eu=west" {
		t.Errorf("ParseVar(REGION=eu=west) = %q, %q, %v", k, v, err)
	}
	for _, bad := range []string{"NOEQUALS", "=x", "A-B=1", "X=${Y}"} {
		if _, _, err := ParseVar(bad); err == nil {
			t.Errorf("ParseVar(%q) accepted", bad)
		}
	}
}
