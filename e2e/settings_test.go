//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/emulator"
)

// lastStart is the latest StartTerminalSession the emulator accepted.
func (h *harness) lastStart() emulator.StartRequest {
	h.t.Helper()
	got := h.emu.StartRequests()
	if len(got) == 0 {
		h.t.Fatal("no StartTerminalSession reached the emulator")
	}
	return got[len(got)-1]
}

// TestConnectionTypeReachesService: --connection-type, ECSTERM_CONNECTION_TYPE and the config
// key each become StartTerminalSession's ConnectionType, spelled as the API does; doctor
// reports it; a bad value is a usage error before any call.
func TestConnectionTypeReachesService(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	if r := h.run("", "exec", "--connection-type", "intranet", demoInstance, "--", "echo", "ok"); r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("exec --connection-type intranet: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := h.lastStart().ConnectionType; got != "Intranet" {
		t.Errorf("flag: ConnectionType %q, want Intranet", got)
	}
	if r := h.run("", "exec", demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("exec: %d %q", r.code, r.stderr)
	}
	if got := h.lastStart().ConnectionType; got != "" {
		t.Errorf("unset: ConnectionType %q, want none sent", got)
	}
	if r := h.run("", "config", "set", "connection_type", "Internet"); r.code != 0 {
		t.Fatalf("config set: %d %q", r.code, r.stderr)
	}
	if r := h.run("", "config", "get", "connection_type"); r.stdout != "internet\n" {
		t.Errorf("config get connection_type = %q (%s)", r.stdout, r.stderr)
	}
	if r := h.run("", "exec", demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("exec: %d %q", r.code, r.stderr)
	}
	if got := h.lastStart().ConnectionType; got != "Internet" {
		t.Errorf("config file: ConnectionType %q, want Internet", got)
	}
	h.setenv("ECSTERM_CONNECTION_TYPE", "intranet")
	if r := h.run("", "doctor"); r.code != 0 || !strings.Contains(r.stdout, "intranet: session URLs are for clients inside the instance's VPC") {
		t.Errorf("doctor: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	h.setenv("ECSTERM_CONNECTION_TYPE", "vpc")
	before := len(h.emu.StartRequests())
	r := h.run("", "exec", demoInstance, "--", "true")
	if r.code != 2 || !strings.Contains(r.stderr, `connection type "vpc" is not internet or intranet (env ECSTERM_CONNECTION_TYPE)`) {
		t.Errorf("bad value: %d %q", r.code, r.stderr)
	}
	if len(h.emu.StartRequests()) != before {
		t.Error("a session started with a bad connection type")
	}
}

// TestPasswordNameReachesService: --password-name goes with -l USER as PasswordName; without a
// user it is a usage error and no session starts.
func TestPasswordNameReachesService(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	r := h.run("", "exec", "-l", "Administrator", "--password-name", "axt-windows-admin", demoInstance, "--", "echo", "ok")
	if r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("exec -l --password-name: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := h.lastStart(); got.Username != "Administrator" || got.PasswordName != "axt-windows-admin" {
		t.Errorf("StartTerminalSession got Username %q, PasswordName %q", got.Username, got.PasswordName)
	}
	before := len(h.emu.StartRequests())
	r = h.run("", "exec", "--password-name", "axt-windows-admin", demoInstance, "--", "true")
	if r.code != 2 || !strings.Contains(r.stderr, "--password-name needs a user") {
		t.Errorf("without a user: %d %q", r.code, r.stderr)
	}
	if n := h.emu.Calls("StartTerminalSession"); n != before {
		t.Errorf("StartTerminalSession called %d times, want %d", n, before)
	}
	r = h.run("", "connect", "--encrypt", demoInstance)
	if r.code != 2 || !strings.Contains(r.stderr, "session encryption (EncryptionOptions) is not available") {
		t.Errorf("--encrypt: %d %q", r.code, r.stderr)
	}
}

// TestSessionSwitchFallback: where DescribeCloudAssistantSettings is missing, sessions still
// start (the older action answers for the switch) and doctor says which action answered; a
// switch that is off stops the session with the fix for the action that said so.
func TestSessionSwitchFallback(t *testing.T) {
	h := newHarness(t, emulator.Options{Refuse: map[string]string{"DescribeCloudAssistantSettings": "InvalidAction.NotFound"}})
	if r := h.run("", "exec", demoInstance, "--", "echo", "ok"); r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("exec: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if h.emu.Calls("DescribeUserBusinessBehavior") != 1 {
		t.Errorf("DescribeUserBusinessBehavior called %d times, want 1", h.emu.Calls("DescribeUserBusinessBehavior"))
	}
	r := h.run("", "doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "(DescribeUserBusinessBehavior answered; DescribeCloudAssistantSettings was refused: InvalidAction.NotFound)") {
		t.Errorf("doctor: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	off := emulator.DefaultFleet()
	off.SessionManager = "disabled"
	h = newHarness(t, emulator.Options{Fleet: off})
	r = h.run("", "exec", demoInstance, "--", "true")
	if r.code != 255 || !strings.Contains(r.stderr, "session management is disabled") || !strings.Contains(r.stderr, "ModifyCloudAssistantSettings") {
		t.Errorf("switch off: %d %q", r.code, r.stderr)
	}
	// exec asks for its session alongside the preflight; one it got is ended, not left open.
	if s, e := h.emu.Calls("StartTerminalSession"), h.emu.Calls("EndTerminalSession"); s != e {
		t.Errorf("%d sessions started, %d ended", s, e)
	}
}

// TestDoctorRecording: doctor says whether the service records sessions, with delivery off and on.
func TestDoctorRecording(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	if r := h.run("", "doctor"); r.code != 0 || !strings.Contains(r.stdout, "the service does not record sessions") {
		t.Errorf("delivery off: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	on := emulator.DefaultFleet()
	on.SessionDelivery.OSS = &emulator.OSSDelivery{Enabled: true, BucketName: "audit-logs", Prefix: "sessions/"}
	on.SessionDelivery.SLS = &emulator.SLSDelivery{Enabled: true, ProjectName: "ops", LogstoreName: "ecs-sessions"}
	h = newHarness(t, emulator.Options{Fleet: on})
	r := h.run("", "doctor")
	if r.code != 0 || !strings.Contains(r.stdout, "the service records this account's sessions") ||
		!strings.Contains(r.stdout, "OSS oss://audit-logs/sessions/; SLS project ops, logstore ecs-sessions") {
		t.Errorf("delivery on: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestRegionQuotaRefusal: ecsterm counts no sessions against a number; when the service refuses
// one for the region's limit (here 1, held by another client), exec says what to do and exits 255.
func TestRegionQuotaRefusal(t *testing.T) {
	h := newHarness(t, emulator.Options{SessionsPerRegion: 1})
	cred := h.emu.Credential()
	other, err := cloud.New(cloud.Config{Region: h.emu.Region(), Endpoint: h.emu.Endpoint(), AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.StartSession(context.Background(), cloud.StartOptions{InstanceID: demoInstance}); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "exec", demoInstance, "--", "true")
	if r.code != 255 || !strings.Contains(r.stderr, "SessionQuota.ExceedLimit") || !strings.Contains(r.stderr, "end idle ones (ecsterm sessions end ID) or wait") {
		t.Errorf("exec: %d %q", r.code, r.stderr)
	}
}
