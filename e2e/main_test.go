//go:build linux

// Package e2e drives the built ecsterm binary through the emulator over real sockets and PTYs.
// It is Linux-only (PTY ioctls, network and mount namespaces); elsewhere it builds to nothing.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// binary is the ecsterm built for this run.
var binary string

// TestMain builds ecsterm and, when it can, re-runs the tests in a network namespace where only
// loopback exists: a forgotten endpoint override or a credential chain reaching for the metadata
// service then fails at once instead of leaving the machine.
func TestMain(m *testing.M) {
	if code, ran := enterLoopbackNamespace(); ran {
		os.Exit(code)
	}
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	dir, err := os.MkdirTemp("", "ecsterm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ecsterm")
	build := exec.Command("go", "build", "-o", binary, "../cmd/ecsterm")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ecsterm:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func enterLoopbackNamespace() (int, bool) {
	if os.Getenv("ECSTERM_NETNS") != "" || runtime.GOOS != "linux" || os.Getuid() != 0 {
		return 0, false
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return 0, false
	}
	args := append([]string{"-n", "--", "sh", "-c", `ip link set lo up && exec "$@"`, "sh"}, os.Args...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Modules are in the cache already (this binary was built from them); nothing may download.
	cmd.Env = append(os.Environ(), "ECSTERM_NETNS=1", "GOPROXY=off")
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), true
		}
		fmt.Fprintln(os.Stderr, "e2e: no network namespace, running on the host's loopback:", err)
		return 0, false
	}
	return 0, true
}

// harness is one emulator plus the environment that points ecsterm at it, and nothing else.
type harness struct {
	t    *testing.T
	emu  *emulator.Emulator
	home string
	env  []string
}

func newHarness(t *testing.T, opts emulator.Options) *harness {
	t.Helper()
	return newHarnessAt(t, "127.0.0.1:0", opts)
}

// newHarnessAt is newHarness with the emulator on a given loopback address.
func newHarnessAt(t *testing.T, addr string, opts emulator.Options) *harness {
	t.Helper()
	if n := readSourcesOnce(); n == 0 {
		t.Fatal("no Go sources found around e2e: the module layout changed")
	}
	emu, err := emulator.Listen(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	h := &harness{t: t, emu: emu, home: t.TempDir()}
	c := emu.Credential()
	h.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + h.home,
		"ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + c.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + c.AccessKeySecret,
		"ALIBABA_CLOUD_REGION_ID=" + emu.Region(),
		"ECSTERM_ENDPOINT=" + emu.Endpoint(),
	}
	if c.SecurityToken != "" {
		h.env = append(h.env, "ALIBABA_CLOUD_SECURITY_TOKEN="+c.SecurityToken)
	}
	return h
}

// setenv replaces or adds an environment variable for later commands ("" value removes it).
func (h *harness) setenv(key, value string) {
	out := h.env[:0:0]
	for _, kv := range h.env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	if value != "" {
		out = append(out, key+"="+value)
	}
	h.env = out
}

// commandTimeout bounds every ecsterm run, so that a hang fails its own test (the process is
// killed and the test sees it) instead of stalling the whole package until go test's timeout.
const commandTimeout = 2 * time.Minute

func (h *harness) command(args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	h.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binary, args...) // killed at the timeout: Wait reports it
	cmd.Env = h.env
	cmd.Dir = h.home
	return cmd
}

// result is a finished ecsterm run without a terminal.
type result struct {
	code           int
	stdout, stderr string
}

func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	return h.runCmd(h.command(args...), stdin)
}

// runCmd runs an ecsterm command made by h.command (perhaps wrapped) to its end.
func (h *harness) runCmd(cmd *exec.Cmd, stdin string) result {
	h.t.Helper()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("running ecsterm: %v", err)
	}
	return result{code, out.String(), errb.String()}
}

// screen collects what a PTY shows and lets a test wait for text without sleeping.
type screen struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newScreen() *screen { return &screen{changed: make(chan struct{})} }

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the screen, from offset from, contains text; it returns the offset just
// after the match. The timeout only guards against a hung test.
func (s *screen) waitFor(t *testing.T, from int, text string) int {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		data, ch := s.buf.Bytes(), s.changed
		if i := bytes.Index(data[min(from, len(data)):], []byte(text)); i >= 0 {
			s.mu.Unlock()
			return from + i + len(text)
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %q; screen so far:\n%s", text, s.String())
		}
	}
}
