//go:build linux

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestInstancesJSON: `instances -o json` is one JSON array with every instance of the fleet.
func TestInstancesJSON(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	r := h.run("", "instances", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr %s", r.code, r.stderr)
	}
	var recs []struct {
		InstanceID string `json:"instance_id"`
		Name       string `json:"name"`
		State      string `json:"state"`
		Agent      struct {
			Status string `json:"status"`
		} `json:"agent"`
		Session struct {
			Ready  bool   `json:"ready"`
			Reason string `json:"reason"`
		} `json:"session"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
		t.Fatalf("stdout is not one JSON array: %v\n%s", err, r.stdout)
	}
	var got, want []string
	for _, rec := range recs {
		got = append(got, rec.InstanceID)
	}
	for _, in := range h.emu.Fleet().Instances {
		want = append(want, in.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("listed %v, want the fleet's %v", got, want)
	}
	for _, rec := range recs {
		switch rec.InstanceID {
		case demoInstance:
			if !rec.Session.Ready || rec.Agent.Status != "online" || rec.State != "Running" {
				t.Errorf("demo instance: %+v", rec)
			}
		case "i-emu0stopped000002":
			if rec.Session.Ready || rec.Session.Reason != "stopped" {
				t.Errorf("stopped instance: %+v", rec)
			}
		}
	}
	if n := h.emu.Calls("DescribeInstances"); n != 1 {
		t.Errorf("DescribeInstances calls = %d, want 1", n)
	}
	if n := h.emu.Calls("DescribeCloudAssistantStatus"); n != 1 {
		t.Errorf("DescribeCloudAssistantStatus calls = %d, want 1", n)
	}

	// ls is the same command; piped, it prints one tab-separated row per instance.
	r = h.run("", "ls", "--state", "Stopped")
	if r.code != 0 || r.stdout != "i-emu0stopped000002\tdemo-stopped\tStopped\tlinux\t10.0.0.12\toffline 2.2.3.512\tno (stopped)\n" {
		t.Errorf("ls --state Stopped: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestDoctor: exit 0 when every check passes, 255 with a FAIL line that names the fix otherwise,
// and never a secret.
func TestDoctor(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	r := h.run("", "doctor", demoInstance)
	if r.code != 0 {
		t.Fatalf("doctor %s: exit %d\nstdout:\n%s\nstderr:\n%s", demoInstance, r.code, r.stdout, r.stderr)
	}
	for _, check := range []string{"credentials", "region", "endpoint", "clock", "api", "sessions", "instance", "running", "agent", "session manager", "agent version"} {
		if !strings.Contains(r.stdout, "ok    "+check) {
			t.Errorf("no ok line for %s:\n%s", check, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL") || strings.Contains(r.stdout, h.emu.Credential().AccessKeySecret) {
		t.Errorf("unexpected output:\n%s", r.stdout)
	}

	r = h.run("", "doctor", "i-emu0stopped000002")
	if r.code != 255 {
		t.Fatalf("doctor on a stopped instance: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var fail string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "FAIL") {
			fail += l + "\n"
		}
	}
	if !strings.Contains(fail, "running") || !strings.Contains(fail, "Stopped") || !strings.Contains(fail, "start it") {
		t.Errorf("FAIL lines do not name the problem and the fix:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr %q: the report is the output", r.stderr)
	}

	h.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret")
	r = h.run("", "doctor")
	if r.code != 255 || !strings.Contains(r.stdout, "SignatureDoesNotMatch") || !strings.Contains(r.stdout, "secret is wrong") {
		t.Errorf("wrong secret: exit %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout, "not-the-secret") {
		t.Error("doctor printed the secret")
	}
}
