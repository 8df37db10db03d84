package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	cfgpkg "github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// fakeStore resolves settings from the environment and -q alone (no file: Inspect is given one
// that does not exist) and keeps what set and unset write in memory.
type fakeStore struct {
	file     string
	written  map[string]string
	calls    []string
	setErr   error
	quiet    bool // as -q
	inspects int
}

func newFakeStore(t *testing.T) *fakeStore {
	isolate(t)
	return &fakeStore{file: t.TempDir() + "/none.yaml", written: map[string]string{}}
}

func (s *fakeStore) Inspect() (*cfgpkg.Settings, error) {
	s.inspects++
	flags := pflag.NewFlagSet("fake", pflag.ContinueOnError)
	flags.BoolP("quiet", "q", false, "")
	if s.quiet {
		_ = flags.Set("quiet", "true")
	}
	return cfgpkg.Inspect(flags, s.file)
}

func (s *fakeStore) Set(file, key, value string) error {
	s.calls = append(s.calls, fmt.Sprintf("set %s %s=%s", file, key, value))
	if s.setErr != nil {
		return s.setErr
	}
	s.written[key] = value
	return nil
}

func (s *fakeStore) Unset(file, key string) error {
	s.calls = append(s.calls, fmt.Sprintf("unset %s %s", file, key))
	if _, ok := s.written[key]; !ok {
		return cfgpkg.ErrNotSet
	}
	delete(s.written, key)
	return nil
}

func runFake(t *testing.T, store Store, opts Options) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	opts.IO, opts.Store = ios, store
	if opts.File == "" {
		opts.File = "/cfg.yaml"
	}
	err = configRun(context.Background(), &opts)
	return out.String(), errOut.String(), err
}

func TestRunListAndGetThroughFake(t *testing.T) {
	store := newFakeStore(t)
	t.Setenv("ALIBABA_CLOUD_REGION_ID", "cn-fake")
	t.Setenv("ECSTERM_ENDPOINT", "http://127.0.0.1:1/\x1b[2J")
	out, _, err := runFake(t, store, Options{Sub: "list"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "region\tcn-fake\tenv ALIBABA_CLOUD_REGION_ID\n") || strings.Contains(out, "\x1b") ||
		!strings.Contains(out, `endpoint	http://127.0.0.1:1/\x1b[2J	env ECSTERM_ENDPOINT`) {
		t.Errorf("list:\n%s", out)
	}
	out, _, err = runFake(t, store, Options{Sub: "get", Key: "Region"})
	if err != nil || out != "cn-fake\n" {
		t.Errorf("get region = %q, %v", out, err)
	}
	if _, _, err := runFake(t, store, Options{Sub: "get", Key: "alias.web"}); err == nil || !strings.Contains(err.Error(), `alias "web" is not set`) {
		t.Errorf("get an unset alias: %v", err)
	}
	out, _, err = runFake(t, store, Options{Sub: "path", File: "/some/where.yaml"})
	if err != nil || out != "/some/where.yaml\n" {
		t.Errorf("path = %q, %v", out, err)
	}
	if store.inspects != 3 || len(store.calls) != 0 {
		t.Errorf("%d inspections and %v: path needs neither", store.inspects, store.calls)
	}
}

// set writes, then asks the settings again to name a flag or variable that still wins; unset
// says where to look when the key was not set.
func TestRunSetAndUnsetThroughFake(t *testing.T) {
	store := newFakeStore(t)
	_, errOut, err := runFake(t, store, Options{Sub: "set", Key: "region", Value: "cn-a"})
	// With nothing in the (fake) file, the default wins over what set wrote: set says so.
	if err != nil || store.calls[0] != "set /cfg.yaml region=cn-a" || !strings.Contains(errOut, "region is set in /cfg.yaml, but default overrides it") {
		t.Errorf("set: %v, calls %v, stderr %q", err, store.calls, errOut)
	}
	store.quiet = true
	if _, errOut, _ := runFake(t, store, Options{Sub: "set", Key: "region", Value: "cn-b"}); errOut != "" {
		t.Errorf("quiet set said %q", errOut)
	}
	before := store.inspects
	if _, errOut, err := runFake(t, store, Options{Sub: "set", Key: "alias.web", Value: "i-abc"}); err != nil || errOut != "" || store.inspects != before {
		t.Errorf("set an alias: %v, stderr %q, inspected again: %v", err, errOut, store.inspects != before)
	}
	store.setErr = errors.New("disk full")
	if _, _, err := runFake(t, store, Options{Sub: "set", Key: "region", Value: "x"}); !errors.Is(err, store.setErr) || store.inspects != before {
		t.Errorf("set that fails: %v", err)
	}

	if _, _, err := runFake(t, store, Options{Sub: "unset", Key: "alias.web"}); err != nil {
		t.Errorf("unset: %v", err)
	}
	if _, _, err := runFake(t, store, Options{Sub: "unset", Key: "alias.web"}); !errors.Is(err, cfgpkg.ErrNotSet) || !strings.Contains(err.Error(), "ecsterm config shows") {
		t.Errorf("unset twice: %v", err)
	}
	if _, _, err := runFake(t, store, Options{Sub: "bogus"}); err == nil {
		t.Error("an unknown subcommand ran")
	}
}
