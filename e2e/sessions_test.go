//go:build linux

package e2e

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestSessionsListAndEnd: while a connect is open, `sessions -o json` lists its session as
// Connected; `sessions end` ends it, and the connect exits 255 saying it was ended from outside.
func TestSessionsListAndEnd(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	cmd := h.command("connect", demoInstance)
	tm.start(t, cmd)
	at := tm.scr.waitFor(t, 0, "@demo-web-01 ~]")

	r := h.run("", "sessions", "-o", "json", "--active", demoInstance)
	if r.code != 0 {
		t.Fatalf("sessions: exit %d, stderr %q", r.code, r.stderr)
	}
	var list []struct {
		SessionID   string   `json:"session_id"`
		InstanceIDs []string `json:"instance_ids"`
		State       string   `json:"state"`
		Kind        string   `json:"kind"`
		ClientIP    string   `json:"client_ip"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("sessions -o json: %v\n%s", err, r.stdout)
	}
	if len(list) != 1 || list[0].State != "Connected" || list[0].Kind != "shell" ||
		len(list[0].InstanceIDs) != 1 || list[0].InstanceIDs[0] != demoInstance || list[0].ClientIP != "127.0.0.1" {
		t.Fatalf("sessions = %+v, want the connect's one Connected shell on %s from 127.0.0.1", list, demoInstance)
	}
	id := list[0].SessionID

	r = h.run("", "sessions", "end", id)
	if r.code != 0 || !strings.Contains(r.stderr, id) {
		t.Fatalf("sessions end: exit %d, stderr %q", r.code, r.stderr)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		t.Fatalf("connect after sessions end: %v, want exit 255\n%s", err, tm.scr.String())
	}
	tm.scr.waitFor(t, at, "ended from outside (EndTerminalSession)")

	// Ended, it is still listed, Terminated; and not among the active ones.
	r = h.run("", "sessions", "--state", "terminated")
	if r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "Terminated") {
		t.Errorf("sessions --state terminated: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r = h.run("", "sessions", "--active"); r.code != 0 || strings.Contains(r.stdout, id) {
		t.Errorf("sessions --active: exit %d, stdout %q", r.code, r.stdout)
	}
	// A session that does not exist: the service's error, and exit 255.
	if r = h.run("", "sessions", "end", "s-nosuch"); r.code != 255 || !strings.Contains(r.stderr, "InvalidSessionId.NotFound") {
		t.Errorf("sessions end s-nosuch: exit %d, stderr %q", r.code, r.stderr)
	}
}
