//go:build linux

package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestTimingBreakdown: --timing adds one line on stderr that says when each step of opening the
// session happened, and changes nothing on stdout.
func TestTimingBreakdown(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	r := h.run("", "--timing", "exec", demoInstance, "--", "echo", "hi")
	if r.code != 0 || r.stdout != "hi\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	line := strings.TrimSpace(r.stderr)
	if strings.Count(line, "\n") != 0 || !strings.HasPrefix(line, "ecsterm: timing since start:") {
		t.Fatalf("stderr %q, want one timing line", r.stderr)
	}
	for _, step := range []string{"preflight", "StartTerminalSession", "WebSocket open", "first output", "exit"} {
		if !regexp.MustCompile(` ` + step + ` \d+\.\dms`).MatchString(line) {
			t.Errorf("the timing line lacks %q with a time: %q", step, line)
		}
	}
	if r := h.run("", "exec", demoInstance, "--", "true"); r.stderr != "" {
		t.Errorf("without --timing, stderr %q", r.stderr)
	}
}
