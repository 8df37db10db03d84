package target

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec // Raw is filled in from in
		wantErr string
	}{
		{in: "i-bp1eifrtpxa9tb0001", want: Spec{Kind: KindID, Value: "i-bp1eifrtpxa9tb0001"}},
		{in: "i-abc", want: Spec{Kind: KindID, Value: "i-abc"}},
		{in: "root@i-abc", want: Spec{User: "root", Kind: KindID, Value: "i-abc"}},
		{in: "web-01", want: Spec{Kind: KindName, Value: "web-01"}},
		{in: "web-*", want: Spec{Kind: KindName, Value: "web-*"}},
		{in: "*", want: Spec{Kind: KindName, Value: "*"}},
		{in: "i-*", want: Spec{Kind: KindName, Value: "i-*"}},
		{in: "i-love-prod", want: Spec{Kind: KindName, Value: "i-love-prod"}},
		{in: "i-Web", want: Spec{Kind: KindName, Value: "i-Web"}},
		{in: "i-", want: Spec{Kind: KindName, Value: "i-"}},
		{in: "name:i-abc", want: Spec{Kind: KindName, Value: "i-abc"}},
		{in: "admin@name:i-abc", want: Spec{User: "admin", Kind: KindName, Value: "i-abc"}},
		{in: "web.example:8", want: Spec{Kind: KindName, Value: "web.example:8"}},
		{in: "数据库-01", want: Spec{Kind: KindName, Value: "数据库-01"}},
		{in: "admin@web-01", want: Spec{User: "admin", Kind: KindName, Value: "web-01"}},
		{in: "tag:env=prod", want: Spec{Kind: KindTag, Value: "env", TagValue: "prod", HasValue: true}},
		{in: "tag:env", want: Spec{Kind: KindTag, Value: "env"}},
		{in: "tag:env=", want: Spec{Kind: KindTag, Value: "env", HasValue: true}},
		{in: "tag:k=a=b", want: Spec{Kind: KindTag, Value: "k", TagValue: "a=b", HasValue: true}},
		{in: "tag:owner=bob@example.com", want: Spec{Kind: KindTag, Value: "owner", TagValue: "bob@example.com", HasValue: true}},
		{in: "root@tag:owner=bob@example.com", want: Spec{User: "root", Kind: KindTag, Value: "owner", TagValue: "bob@example.com", HasValue: true}},
		{in: "10.0.0.11", want: Spec{Kind: KindIP, Value: "10.0.0.11"}},
		{in: "47.96.0.11", want: Spec{Kind: KindIP, Value: "47.96.0.11"}},
		{in: "ecs-user@10.0.0.11", want: Spec{User: "ecs-user", Kind: KindIP, Value: "10.0.0.11"}},
		{in: "10.0.0", want: Spec{Kind: KindName, Value: "10.0.0"}},
		{in: "1.2.3.4.5", want: Spec{Kind: KindName, Value: "1.2.3.4.5"}},
		{in: "10.0.0.300", wantErr: "not a valid IPv4"},
		{in: "10.0.0.011", wantErr: "not a valid IPv4"},
		{in: "fe80::1", wantErr: "IPv6"},
		{in: "::1", wantErr: "IPv6"},
		{in: "", wantErr: "names no instance"},
		{in: "root@", wantErr: "names no instance"},
		{in: "@i-abc", wantErr: "no user"},
		{in: "@", wantErr: "no user"},
		{in: "ro ot@i-abc", wantErr: "not a valid user"},
		{in: "a:b@i-abc", wantErr: "not a valid user"},
		{in: "tag:", wantErr: "no tag key"},
		{in: "tag:=prod", wantErr: "no tag key"},
		{in: "name:", wantErr: "no name"},
		{in: "web\x1b[2J", wantErr: "control characters"},
		{in: "web\n01", wantErr: "control characters"},
		{in: "web\xff", wantErr: "invalid UTF-8"},
		{in: "x\x00@i-abc", wantErr: "not a valid user"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want an error with %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if strings.ContainsAny(err.Error(), "\x1b\n\x00") {
					t.Errorf("error %q carries control characters", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			tt.want.Raw = tt.in
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	for in, want := range map[string]string{
		"web-*":        `name "web-*"`,
		"tag:env=prod": "tag env=prod",
		"tag:env":      "tag env (any value)",
		"10.0.0.1":     "IP address 10.0.0.1",
		"i-abc":        "instance ID i-abc",
	} {
		s, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Describe(); got != want {
			t.Errorf("Describe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseTag(t *testing.T) {
	if tag, err := ParseTag("env=prod"); err != nil || tag.Key != "env" || tag.Value != "prod" {
		t.Errorf("env=prod: %+v %v", tag, err)
	}
	if tag, err := ParseTag("env"); err != nil || tag.Key != "env" || tag.Value != "" {
		t.Errorf("env: %+v %v", tag, err)
	}
	if _, err := ParseTag("=prod"); err == nil {
		t.Error("=prod accepted")
	}
}

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, name string
		want          bool
	}{
		{"web-01", "web-01", true},
		{"web-01", "web-011", false},
		{"web-01", "Web-01", false},
		{"web-*", "web-01", true},
		{"web-*", "web-", true},
		{"web-*", "api-01", false},
		{"*-01", "web-01", true},
		{"*", "", true},
		{"*", "anything", true},
		{"w*b*1", "web-01", true},
		{"w*b*2", "web-01", false},
		{"a*a*a*a*b", strings.Repeat("a", 40), false},
		{"web?", "web?", true},
		{"web?", "webs", false},
		{"[a]", "[a]", true},
		{"web/*", "web/01", true},
		{"", "", true},
		{"", "x", false},
	} {
		if got := Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts is self-consistent.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"i-abc", "root@web-*", "tag:env=prod", "tag:k", "10.0.0.1", "a@b@c", "name:x", "fe80::1", "\x1b", "@", "tag:=", "1.2.3.999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := Parse(s)
		if err != nil {
			if spec != (Spec{}) {
				t.Errorf("error with a non-zero spec: %+v", spec)
			}
			return
		}
		if spec.Raw != s {
			t.Errorf("Raw = %q, want %q", spec.Raw, s)
		}
		if spec.Value == "" || spec.Kind < KindID || spec.Kind > KindIP {
			t.Errorf("accepted %q as %+v", s, spec)
		}
		if spec.User != "" && !strings.HasPrefix(s, spec.User+"@") {
			t.Errorf("user %q is not the prefix of %q", spec.User, s)
		}
		if !utf8.ValidString(spec.Value) || strings.ContainsAny(spec.Value, "\x00\x1b\n\r") {
			t.Errorf("value %q carries control bytes", spec.Value)
		}
		if spec.Kind == KindID && !IsID(spec.Value) {
			t.Errorf("ID %q does not look like one", spec.Value)
		}
		_ = spec.Describe()
	})
}
