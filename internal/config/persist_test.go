package config

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestPersist: persist comes from the file or ECSTERM_PERSIST, takes a duration or no, and a
// bad value is a usage error wherever it comes from.
func TestPersist(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := Set(file, "persist", "10m"); err != nil {
		t.Fatal(err)
	}
	if err := Set(file, "persist", "soon"); err == nil {
		t.Error("config set took persist soon")
	}
	s, err := Inspect(pflag.NewFlagSet("x", pflag.ContinueOnError), file)
	if err != nil || s.Config.Persist != 10*time.Minute || s.Source("persist") != "file "+file {
		t.Fatalf("file: %v %v %q", err, s.Config.Persist, s.Source("persist"))
	}
	if v, _ := s.Get("persist"); v != "10m0s" {
		t.Errorf("Get(persist) = %v", v)
	}
	t.Setenv("ECSTERM_PERSIST", "no")
	if s, err = Inspect(pflag.NewFlagSet("x", pflag.ContinueOnError), file); err != nil || s.Config.Persist != 0 {
		t.Fatalf("env no: %v %v", err, s.Config.Persist)
	}
	t.Setenv("ECSTERM_PERSIST", "-5s")
	if _, err = Inspect(pflag.NewFlagSet("x", pflag.ContinueOnError), file); !errors.Is(err, ErrInvalid) {
		t.Fatalf("env -5s: %v, want ErrInvalid", err)
	}
}
