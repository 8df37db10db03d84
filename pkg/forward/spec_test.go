package forward

import (
	"strings"
	"testing"
)

func TestParseLocal(t *testing.T) {
	tests := []struct {
		spec string
		want LocalSpec
		err  string
	}{
		{"8080:80", LocalSpec{Bind: "127.0.0.1", Port: 8080, HostPort: 80}, ""},
		{"0:80", LocalSpec{Bind: "127.0.0.1", Port: 0, HostPort: 80}, ""},
		{"8080:localhost:80", LocalSpec{Bind: "127.0.0.1", Port: 8080, Host: "localhost", HostPort: 80}, ""},
		{"5432:10.0.0.7:5432", LocalSpec{Bind: "127.0.0.1", Port: 5432, Host: "10.0.0.7", HostPort: 5432}, ""},
		{"127.0.0.1:5432:10.0.0.7:5432", LocalSpec{Bind: "127.0.0.1", Port: 5432, Host: "10.0.0.7", HostPort: 5432}, ""},
		{"0.0.0.0:8080:db.internal:5432", LocalSpec{Bind: "0.0.0.0", Port: 8080, Host: "db.internal", HostPort: 5432}, ""},
		{"*:8080:db:5432", LocalSpec{Bind: "", Port: 8080, Host: "db", HostPort: 5432}, ""},
		{":8080:db:5432", LocalSpec{Bind: "", Port: 8080, Host: "db", HostPort: 5432}, ""},
		{"[::1]:8080:[fd00::7]:80", LocalSpec{Bind: "::1", Port: 8080, Host: "fd00::7", HostPort: 80}, ""},
		{"8080:[fd00::7]:80", LocalSpec{Bind: "127.0.0.1", Port: 8080, Host: "fd00::7", HostPort: 80}, ""},
		{"localhost:8080:db:80", LocalSpec{Bind: "localhost", Port: 8080, Host: "db", HostPort: 80}, ""},

		{"", LocalSpec{}, "want"},
		{"8080", LocalSpec{}, "want"},
		{"8080:0", LocalSpec{}, "out of range"},
		{"8080:65536", LocalSpec{}, "out of range"},
		{"70000:80", LocalSpec{}, "out of range"},
		{"-1:80", LocalSpec{}, "not a port"},
		{"+1:80", LocalSpec{}, "not a port"},
		{"http:80", LocalSpec{}, "not a port"},
		{"8080::80", LocalSpec{}, "empty host"},
		{"8080:a b:80", LocalSpec{}, "not a host name"},
		{"::1:8080:db:80", LocalSpec{}, "brackets"},
		{"[::1:8080:db:80", LocalSpec{}, "without ']'"},
		{"[db]:8080:db:80", LocalSpec{}, "not an IPv6"},
		{"[127.0.0.1]:8080:db:80", LocalSpec{}, "not an IPv6"},
		{"[::1]x:8080:db:80", LocalSpec{}, "after ']'"},
		{"a:b:c:d:e", LocalSpec{}, "want"},
		{"1:2:3:4", LocalSpec{}, ""}, // odd but valid: bind 1 (a host name), port 2, host 3, port 4
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseLocal(tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseLocal(%q) = %+v, %v; want an error containing %q", tt.spec, got, err, tt.err)
				}
				if !strings.Contains(err.Error(), "-L") {
					t.Errorf("error %q does not name the flag", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLocal(%q): %v", tt.spec, err)
			}
			if tt.spec != "1:2:3:4" && got != tt.want {
				t.Errorf("ParseLocal(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestParseDynamic(t *testing.T) {
	tests := []struct {
		spec string
		want DynamicSpec
		err  string
	}{
		{"1080", DynamicSpec{"127.0.0.1", 1080}, ""},
		{"0", DynamicSpec{"127.0.0.1", 0}, ""},
		{"0.0.0.0:1080", DynamicSpec{"0.0.0.0", 1080}, ""},
		{"*:1080", DynamicSpec{"", 1080}, ""},
		{"[::1]:1080", DynamicSpec{"::1", 1080}, ""},
		{"", DynamicSpec{}, "missing"},
		{"a:b:c", DynamicSpec{}, "want"},
		{"99999", DynamicSpec{}, "out of range"},
		{"x y:1080", DynamicSpec{}, "bind address"},
	}
	for _, tt := range tests {
		got, err := ParseDynamic(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDynamic(%q) = %+v, %v; want an error containing %q", tt.spec, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDynamic(%q) = %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
	}
}

func TestListenAddress(t *testing.T) {
	s, _ := ParseLocal("[::1]:0:db:80")
	if got := s.Listen(); got != "[::1]:0" {
		t.Errorf("Listen() = %q", got)
	}
	s, _ = ParseLocal("*:8080:db:80")
	if got := s.Listen(); got != ":8080" {
		t.Errorf("Listen() = %q", got)
	}
}

func TestInstanceItself(t *testing.T) {
	for host, want := range map[string]bool{"": true, "localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true,
		"::1": true, "10.0.0.7": false, "db.internal": false, "localhost.example": false} {
		if got := InstanceItself(host); got != want {
			t.Errorf("InstanceItself(%q) = %v, want %v", host, got, want)
		}
	}
}

// FuzzParseLocal: the parser never panics, and what it accepts it writes back to itself.
func FuzzParseLocal(f *testing.F) {
	for _, s := range []string{"8080:80", "127.0.0.1:5432:10.0.0.7:5432", "[::1]:0:[fd00::1]:22", "*:1:h:2", "[", "]:", "::::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseLocal(spec)
		if err != nil {
			return
		}
		back, err := ParseLocal(s.String())
		if err != nil {
			t.Fatalf("ParseLocal(%q) = %+v, whose String %q does not parse: %v", spec, s, s.String(), err)
		}
		if s.Host == "" {
			s.Host = "localhost"
		}
		if back != s {
			t.Fatalf("ParseLocal(%q) = %+v; String %q parses to %+v", spec, s, s.String(), back)
		}
		_, _ = ParseDynamic(spec)
	})
}
