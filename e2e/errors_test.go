//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// TestConnectFailures: each way a connect can fail is one clear line on stderr, nothing on
// stdout, and the right exit status.
func TestConnectFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		setup func(h *harness)
		code  int
		want  []string // substrings of the one stderr line
	}{
		{name: "unknown instance", args: []string{"connect", "i-doesnotexist0000"}, code: 255,
			want: []string{"i-doesnotexist0000", "no such instance", "--region"}},
		{name: "stopped instance", args: []string{"connect", "i-emu0stopped000002"}, code: 255,
			want: []string{"is Stopped, not Running", "start it"}},
		{name: "agent missing", args: []string{"connect", "i-emu0noagent000003"}, code: 255,
			want: []string{"not installed", "InstallCloudAssistant"}},
		{name: "agent too old", args: []string{"connect", "i-emu0oldagent00004"}, code: 255,
			want: []string{"2.2.0.106", "too old", "2.2.3.256"}},
		{name: "agent offline", args: []string{"connect", "i-emu0offline000005"}, code: 255,
			want: []string{"offline"}},
		{name: "wrong secret", args: []string{"connect", demoInstance}, code: 255,
			setup: func(h *harness) { h.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret") },
			want:  []string{"SignatureDoesNotMatch", "secret is wrong", "RequestId"}},
		{name: "unknown access key", args: []string{"connect", demoInstance}, code: 255,
			setup: func(h *harness) { h.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAInobody") },
			want:  []string{"InvalidAccessKeyId.NotFound", "RequestId"}},
		{name: "no credentials", args: []string{"connect", demoInstance}, code: 255,
			setup: func(h *harness) {
				h.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
				h.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
			},
			want: []string{"no Alibaba Cloud credentials found", "ALIBABA_CLOUD_ACCESS_KEY_ID"}},
		{name: "no region", args: []string{"connect", demoInstance}, code: 255,
			setup: func(h *harness) { h.setenv("ALIBABA_CLOUD_REGION_ID", "") },
			want:  []string{"no region", "--region"}},
		{name: "wrong region", args: []string{"--region", "cn-beijing", "connect", demoInstance}, code: 255,
			want: []string{"RegionId.ApiNotSupported", "RequestId"}},
		{name: "dispatch errors retried then reported", args: []string{"connect", demoInstance}, code: 255,
			setup: func(h *harness) { h.emu.FailNext("StartTerminalSession", "InternalError.Dispatch", 100) },
			want:  []string{"StartTerminalSession failed: InternalError.Dispatch", "RequestId", "after 4 attempts"}},
		{name: "plain http to a remote endpoint", args: []string{"--endpoint", "http://192.0.2.1:80", "connect", demoInstance}, code: 255,
			want: []string{"plain http", "loopback"}},
		{name: "missing target", args: []string{"connect"}, code: 2, want: []string{"accepts 1 arg"}},
		{name: "unknown flag", args: []string{"connect", "--bogus", demoInstance}, code: 2, want: []string{"unknown flag"}},
		{name: "command too long", args: []string{"connect", demoInstance, "--command", strings.Repeat("x", 513)}, code: 2,
			want: []string{"513 characters", "at most 512"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{})
			if tc.setup != nil {
				tc.setup(h)
			}
			r := h.run("", tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
			line := strings.SplitN(r.stderr, "\n", 2)[0]
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("first stderr line %q lacks %q", line, w)
				}
			}
			if tc.code == 255 && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("want exactly one line on stderr, got %q", r.stderr)
			}
		})
	}
}

// TestDispatchRetriesAreBounded: a transient error is retried, and a call that recovers wins.
func TestDispatchRetriesAreBounded(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.emu.FailNext("StartTerminalSession", "InternalError.Dispatch", 2)
	r := h.run("exit\n", "connect", demoInstance)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := h.emu.Calls("StartTerminalSession"); got != 3 {
		t.Errorf("StartTerminalSession called %d times, want 3 (two failures, then success)", got)
	}
	h2 := newHarness(t, emulator.Options{})
	h2.emu.FailNext("StartTerminalSession", "InternalError.Dispatch", 100)
	h2.run("", "connect", demoInstance)
	if got := h2.emu.Calls("StartTerminalSession"); got != 4 {
		t.Errorf("with a persistent error, StartTerminalSession called %d times, want 4", got)
	}
}

// TestSecretsNeverPrinted runs sessions that succeed and fail, with --debug and with the Alibaba
// SDK's own debug switches set, using STS credentials, and checks that no output contains the
// AccessKey secret, the STS token or any session token.
func TestSecretsNeverPrinted(t *testing.T) {
	cred := emulator.Credential{AccessKeyID: "LTAIsecrettest0001", AccessKeySecret: "S3cr3t-AccessKey-Value", SecurityToken: "STS-token-value-0123456789"}
	h := newHarness(t, emulator.Options{Credentials: []emulator.Credential{cred}})
	h.setenv("DEBUG", "dara,tea,credential,sdk")
	var outputs []string
	for _, args := range [][]string{
		{"--debug", "connect", demoInstance},
		{"--debug", "connect", "i-emu0stopped000002"},
		{"--debug", "--region", "cn-beijing", "connect", demoInstance},
	} {
		r := h.run("echo ok\nexit\n", args...)
		outputs = append(outputs, r.stdout, r.stderr)
	}
	if !strings.Contains(strings.Join(outputs, ""), "level=DEBUG") {
		t.Fatal("--debug printed nothing; the test would prove nothing")
	}
	// This session's new commands: a recording (its file too), the session listing and its end.
	cast := filepath.Join(t.TempDir(), "s.cast")
	r := h.run("echo ok\nexit\n", "--debug", "connect", "--record", cast, demoInstance)
	outputs = append(outputs, r.stdout, r.stderr)
	b, err := os.ReadFile(cast)
	if err != nil || !strings.Contains(string(b), `"version":2`) {
		t.Fatalf("no recording made (%v); the test would prove nothing for it", err)
	}
	outputs = append(outputs, string(b))
	for _, args := range [][]string{{"--debug", "sessions"}, {"--debug", "-o", "json", "sessions"}} {
		r := h.run("", args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		outputs = append(outputs, r.stdout, r.stderr)
	}
	started := h.emu.StartRequests()
	r = h.run("", "--debug", "sessions", "end", started[len(started)-1].SessionID)
	outputs = append(outputs, r.stdout, r.stderr)

	h.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong-"+cred.AccessKeySecret)
	r = h.run("", "--debug", "connect", demoInstance)
	outputs = append(outputs, r.stdout, r.stderr)

	secrets := append([]string{cred.AccessKeySecret, cred.SecurityToken}, h.emu.SessionTokens()...)
	if len(secrets) < 3 {
		t.Fatal("no session was started; the test would prove nothing")
	}
	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output contains a secret %q:\n%s", s, out)
			}
		}
		if strings.Contains(out, "token=") && !strings.Contains(out, "token=REDACTED") {
			t.Errorf("output contains an unredacted token parameter:\n%s", out)
		}
	}
}

// TestSessionsDisabledForAccount: the account switch the official client checks is part of
// preflight, and its failure says how to turn it on.
func TestSessionsDisabledForAccount(t *testing.T) {
	fleet := emulator.DefaultFleet()
	fleet.SessionManager = "disabled"
	h := newHarness(t, emulator.Options{Fleet: fleet})
	r := h.run("", "connect", demoInstance)
	if r.code != 255 || !strings.Contains(r.stderr, "session management is disabled for this account") || !strings.Contains(r.stderr, "ModifyCloudAssistantSettings") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestInstallAgent: --install-agent installs a missing agent only with a confirmation (--yes
// here, as there is no terminal), and says the instance must reboot; until it has, the agent
// is reported offline.
func TestInstallAgent(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	const noAgent = "i-emu0noagent000003"
	r := h.run("", "connect", "--install-agent", noAgent)
	if r.code != 2 || !strings.Contains(r.stderr, "--yes") || h.emu.Calls("InstallCloudAssistant") != 0 {
		t.Fatalf("without --yes and no terminal: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.run("", "connect", "--install-agent", "--yes", noAgent)
	if r.code != 255 || !strings.Contains(r.stderr, "agent installed") || !strings.Contains(r.stderr, "reboot") || h.emu.Calls("InstallCloudAssistant") != 1 {
		t.Fatalf("with --yes: exit %d, stderr %q", r.code, r.stderr)
	}
	r = h.run("", "connect", noAgent)
	if r.code != 255 || !strings.Contains(r.stderr, "offline") {
		t.Fatalf("after installing, before a reboot: exit %d, stderr %q", r.code, r.stderr)
	}
	// An instance that has its agent is not touched.
	h.run("exit\n", "connect", "--install-agent", "--yes", demoInstance)
	if h.emu.Calls("InstallCloudAssistant") != 1 {
		t.Fatal("InstallCloudAssistant called for an instance that has an agent")
	}
}
