package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConnectionType: the flag beats the variable, which beats the file; any case is taken and
// kept in lower case; a bad value from any source is an ErrInvalid naming that source.
func TestConnectionType(t *testing.T) {
	isolate(t)
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("connection_type: Intranet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Inspect(rootFlags(t, nil), file)
	if err != nil || s.Config.ConnectionType != "intranet" || s.Source("connection_type") != "file "+file {
		t.Fatalf("file: %v %q %q", err, s.Config.ConnectionType, s.Source("connection_type"))
	}
	if v, _ := s.Get("connection_type"); v != "intranet" {
		t.Errorf("Get = %v", v)
	}
	t.Setenv("ECSTERM_CONNECTION_TYPE", "internet")
	s, err = Inspect(rootFlags(t, nil), file)
	if err != nil || s.Config.ConnectionType != "internet" || s.Source("connection_type") != "env ECSTERM_CONNECTION_TYPE" {
		t.Fatalf("env: %v %q %q", err, s.Config.ConnectionType, s.Source("connection_type"))
	}
	s, err = Inspect(rootFlags(t, map[string]string{"connection-type": "INTRANET"}), file)
	if err != nil || s.Config.ConnectionType != "intranet" || s.Source("connection_type") != "flag" {
		t.Fatalf("flag: %v %q %q", err, s.Config.ConnectionType, s.Source("connection_type"))
	}
	for _, src := range []string{"flag", "env"} {
		flags := map[string]string{}
		if src == "flag" {
			flags["connection-type"] = "vpc"
		} else {
			t.Setenv("ECSTERM_CONNECTION_TYPE", "vpc")
		}
		_, err = Inspect(rootFlags(t, flags), file)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"vpc" is not internet or intranet`) || !strings.Contains(err.Error(), src) {
			t.Errorf("%s vpc: %v", src, err)
		}
	}
	if err := Check("connection_type", "vpc"); err == nil {
		t.Error("Check took connection_type vpc")
	}
	if err := Set(file, "connection_type", "Internet"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); strings.TrimSpace(string(b)) != "connection_type: internet" {
		t.Errorf("file after Set: %q", b)
	}
}

// TestInvalidOutputIsErrInvalid: a bad value is a usage error, not a failure to read.
func TestInvalidOutputIsErrInvalid(t *testing.T) {
	isolate(t)
	if _, err := Load(rootFlags(t, map[string]string{"output": "yaml"}), ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("-o yaml: %v", err)
	}
}

// TestPasswordNameIsFlagOnly: --password-name reaches Config; nothing else sets it.
func TestPasswordNameIsFlagOnly(t *testing.T) {
	isolate(t)
	fs := rootFlags(t, nil)
	fs.String("password-name", "", "")
	if err := fs.Set("password-name", "axt-pw"); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(fs, "")
	if err != nil || cfg.PasswordName != "axt-pw" {
		t.Errorf("Load = %+v, %v", cfg, err)
	}
	if err := CheckKey("password_name"); err == nil {
		t.Error("password_name is a config key")
	}
}
