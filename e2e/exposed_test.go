//go:build linux

package e2e

import (
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// A forward that listens on every interface works, as ssh's does, and says once on stderr that
// its port is open to other hosts; a loopback one says nothing, and -q silences the notice.
func TestForwardSaysWhenOpenToOtherHosts(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	f := h.startForward(demoInstance, "-L", "0.0.0.0:0:localhost:80", "-L", "127.0.0.1:0:localhost:80", "-D", "*:0")
	if code := f.stop(); code != 130 {
		t.Fatalf("exit %d after SIGINT; stderr:\n%s", code, f.stderr.String())
	}
	got := f.stderr.String()
	if n := strings.Count(got, "is open to other hosts"); n != 2 {
		t.Errorf("stderr has %d notices, want 2 (0.0.0.0 and *):\n%s", n, got)
	}
	for _, listen := range []string{f.listens[0], f.listens[2]} {
		if !strings.Contains(got, "ecsterm: "+listen+" is open to other hosts") {
			t.Errorf("stderr does not name %s:\n%s", listen, got)
		}
	}
	if strings.Contains(got, f.listens[1]) {
		t.Errorf("stderr names the loopback listener %s:\n%s", f.listens[1], got)
	}

	// startForward waits for len(specs)/2 announcements: "-q" rides as the odd one out.
	q := h.startForward(demoInstance, "-L", "0.0.0.0:0:localhost:80", "-q")
	if code := q.stop(); code != 130 {
		t.Fatalf("-q: exit %d after SIGINT; stderr:\n%s", code, q.stderr.String())
	}
	if s := q.stderr.String(); s != "" {
		t.Errorf("-q: stderr %q, want nothing", s)
	}
}
