//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// A gateway that accepts the WebSocket and then says nothing (here an agent that takes an hour
// to start) does not hold connect or exec in silence: ecsterm says what it waits for, then
// gives up with exit 255 and ends the session. ECSTERM_AGENT_WAIT scales the bound down.
func TestSilentGatewayGivesUp(t *testing.T) {
	h := newHarness(t, emulator.Options{AgentStartDelay: time.Hour})
	h.setenv("ECSTERM_AGENT_WAIT", "1200ms")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"exec", "", []string{"exec", demoInstance, "--", "true"}},
		{"exec with input", "typed ahead\n", []string{"exec", "-T", demoInstance, "--", "cat"}},
		{"connect", "echo hi\n", []string{"connect", demoInstance}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ended := h.emu.Calls("EndTerminalSession")
			r := h.run(tc.stdin, tc.args...)
			if r.code != 255 {
				t.Fatalf("exit %d, want 255; stderr:\n%s", r.code, r.stderr)
			}
			for _, want := range []string{
				"ecsterm: waiting for the instance's Cloud Assistant agent to start the session",
				"no answer from the instance 1.2s after the session gateway accepted the connection",
			} {
				if strings.Count(r.stderr, want) != 1 {
					t.Errorf("stderr does not say %q once:\n%s", want, r.stderr)
				}
			}
			if n := h.emu.Calls("EndTerminalSession") - ended; n != 1 {
				t.Errorf("%d EndTerminalSession calls, want 1", n)
			}
		})
	}
}
