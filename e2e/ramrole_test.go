//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// RamRoleArn profiles from ~/.aliyun/config.json, end to end, with a real STS AssumeRole.
//
// credentials-go v1.4.14 gives a RamRoleArn profile no STS endpoint to configure: the provider
// (providers/cli_profile.go → ram_role_arn.go) always POSTs to https://sts.aliyuncs.com, or
// https://sts.<sts_region>.aliyuncs.com (sts-vpc.… with enable_vpc), on port 443, through the
// system's resolver and the system's root certificates. So the test moves the name, not the
// endpoint, and only for the ecsterm under test:
//
//   - TestMain already runs the tests, as root, in a network namespace holding only loopback, so
//     127.0.0.1:443 is this test's to take and nothing can leave the machine. The emulator
//     listens there, over TLS, with a certificate that also names the STS host.
//   - ecsterm runs under `unshare --mount --propagation private`, in a mount namespace of its
//     own where /etc/hosts maps the STS host to 127.0.0.1 and /etc/nsswitch.conf says
//     "hosts: files" (both bind-mounted from temporary files; the real ones are untouched).
//     GODEBUG=netdns=go makes the lookup Go's own resolver whether or not the binary has cgo,
//     and that resolver, told "files" only, reads /etc/hosts and never asks DNS.
//   - SSL_CERT_FILE holds the emulator's certificate, so the https call verifies as it would
//     against Alibaba: credentials-go's transport uses the system roots.

// stsInterception runs commands in a mount namespace where the STS host is 127.0.0.1.
type stsInterception struct {
	unshare, sh string
	binds       []string // file to mount, path to mount it on, ...
}

func newSTSInterception(t *testing.T, stsHost string) *stsInterception {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: STS is reached by name on 127.0.0.1:443 inside private network and mount namespaces")
	}
	if ifs, err := net.Interfaces(); err != nil || len(ifs) != 1 || ifs[0].Flags&net.FlagLoopback == 0 {
		t.Skip("needs the loopback-only network namespace TestMain enters as root, " +
			"so that 127.0.0.1:443 is free and nothing can leave the machine")
	}
	ic := &stsInterception{}
	for _, tool := range []string{"unshare", "mount", "sh"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("needs %s (unshare and mount: util-linux) to give ecsterm its own /etc/hosts: %v", tool, err)
		}
		switch tool {
		case "unshare":
			ic.unshare = path
		case "sh":
			ic.sh = path
		}
	}
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	nss := filepath.Join(dir, "nsswitch.conf")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n::1 localhost\n127.0.0.1 "+stsHost+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nss, []byte("hosts: files\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ic.binds = []string{hosts, "/etc/hosts"}
	// A bind mount needs an existing target; without nsswitch.conf Go's resolver reads
	// /etc/hosts first anyway (files, then DNS).
	if _, err := os.Stat("/etc/nsswitch.conf"); err == nil {
		ic.binds = append(ic.binds, nss, "/etc/nsswitch.conf")
	}
	return ic
}

// wrap makes cmd (from harness.command) run in the intercepting mount namespace. unshare, sh and
// the final exec keep one process, so the harness's timeout still kills ecsterm itself.
func (ic *stsInterception) wrap(cmd *exec.Cmd) *exec.Cmd {
	script := ""
	for i := 0; i < len(ic.binds); i += 2 {
		script += fmt.Sprintf(`mount --bind "$%d" "$%d" && `, i+1, i+2)
	}
	script += fmt.Sprintf(`shift %d && exec "$@"`, len(ic.binds))
	args := append([]string{ic.unshare, "--mount", "--propagation", "private", "--", ic.sh, "-c", script, "sh"}, ic.binds...)
	cmd.Args = append(args, cmd.Args...)
	cmd.Path = ic.unshare
	return cmd
}

// runIntercepted is harness.run with the STS host mapped to the emulator.
func (h *harness) runIntercepted(ic *stsInterception, args ...string) result {
	h.t.Helper()
	return h.runCmd(ic.wrap(h.command(args...)), "")
}

const (
	roleSession    = "ecsterm-e2e"
	roleDuration   = 1800 // expired_seconds in the profile, to see it reach AssumeRole
	wrongSourceKey = "not-the-source-secret-0123"
)

// newRoleHarness starts a TLS emulator on 127.0.0.1:443 whose certificate also names stsHost,
// and writes ~/.aliyun/config.json with an AK profile "default", a RamRoleArn profile "ops" and a
// RamRoleArn profile "ops-badkey" whose source secret is wrong. The environment holds no keys:
// the profiles are the only credentials.
func newRoleHarness(t *testing.T, stsHost string, opts emulator.Options) *harness {
	t.Helper()
	opts.TLS, opts.TLSNames = true, []string{stsHost}
	h := newHarnessAt(t, "127.0.0.1:443", opts)
	ca := filepath.Join(t.TempDir(), "emulator-ca.pem")
	if err := os.WriteFile(ca, h.emu.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	h.setenv("SSL_CERT_FILE", ca)
	h.setenv("GODEBUG", "netdns=go")
	h.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	h.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")

	src := h.emu.Credential()
	region := h.emu.Region()
	role := func(name, secret string) map[string]any {
		return map[string]any{"name": name, "mode": "RamRoleArn", "access_key_id": src.AccessKeyID,
			"access_key_secret": secret, "ram_role_arn": emulator.DefaultRoleARN, "ram_session_name": roleSession,
			"expired_seconds": roleDuration, "sts_region": region, "region_id": region}
	}
	cfg := map[string]any{"current": "default", "meta_path": "", "profiles": []map[string]any{
		{"name": "default", "mode": "AK", "access_key_id": src.AccessKeyID, "access_key_secret": src.AccessKeySecret, "region_id": region},
		role("ops", src.AccessKeySecret),
		role("ops-badkey", wrongSourceKey),
	}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(h.home, ".aliyun"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.home, ".aliyun", "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

// checkSigners checks that the emulator saw every AssumeRole signed with the source AccessKey
// and every ECS call signed with one of the keys AssumeRole issued, and returns the issued keys
// the ECS calls used.
func checkSigners(t *testing.T, h *harness) (used []string) {
	t.Helper()
	src := h.emu.Credential().AccessKeyID
	issued := map[string]bool{}
	for _, g := range h.emu.AssumedRoles() {
		if g.SignedBy != src || g.RoleArn != emulator.DefaultRoleARN || g.RoleSessionName != roleSession || g.DurationSeconds != roleDuration {
			t.Errorf("AssumeRole %+v: want it signed by the source key %s for %s, session %s, %d s",
				g, src, emulator.DefaultRoleARN, roleSession, roleDuration)
		}
		issued[g.Issued.AccessKeyID] = true
	}
	ecsCalls := 0
	for action, ids := range h.emu.Signers() {
		if action == "AssumeRole" {
			continue
		}
		for _, id := range ids {
			ecsCalls++
			if !issued[id] {
				t.Errorf("%s signed by %s, not by a key AssumeRole issued", action, id)
			} else if !slices.Contains(used, id) {
				used = append(used, id)
			}
		}
	}
	for _, action := range []string{"DescribeInstances", "StartTerminalSession"} {
		if len(h.emu.SignedBy(action)) == 0 {
			t.Errorf("ecsterm never called %s; the test would prove little", action)
		}
	}
	return used
}

// checkNoSecrets fails if any output holds the source secret, the wrong one, an issued secret or
// security token, or a session token.
func checkNoSecrets(t *testing.T, h *harness, outputs ...string) {
	t.Helper()
	secrets := []string{h.emu.Credential().AccessKeySecret, wrongSourceKey}
	for _, g := range h.emu.AssumedRoles() {
		secrets = append(secrets, g.Issued.AccessKeySecret, g.Issued.SecurityToken)
	}
	secrets = append(secrets, h.emu.SessionTokens()...)
	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output contains a secret %q:\n%s", s, out)
			}
		}
	}
}

func TestRamRoleArnProfile(t *testing.T) {
	stsHost := "sts." + emulator.DefaultFleet().Region + ".aliyuncs.com"
	ic := newSTSInterception(t, stsHost)

	t.Run("assumed once, every call with the role's key", func(t *testing.T) {
		h := newRoleHarness(t, stsHost, emulator.Options{})
		r := h.runIntercepted(ic, "--profile", "ops", "exec", demoInstance, "--", "echo ok")
		if r.code != 0 || r.stdout != "ok\n" || r.stderr != "" {
			t.Fatalf("exec with the RamRoleArn profile: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if n := len(h.emu.AssumedRoles()); n != 1 {
			t.Errorf("%d AssumeRole calls, want 1: hour-long credentials serve the whole run", n)
		}
		if used := checkSigners(t, h); len(used) != 1 {
			t.Errorf("ECS calls signed with %d issued keys, want 1", len(used))
		}
		outputs := []string{r.stdout, r.stderr}

		// The same profile without the interception cannot reach STS: nothing else (an
		// endpoint override, the environment) made the run above work, and the host it tried
		// is the one credentials-go hard-codes.
		r = h.run("", "--profile", "ops", "exec", demoInstance, "--", "echo ok")
		if r.code != 255 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `"ops"`) ||
			!strings.Contains(r.stderr, "https://"+stsHost) {
			t.Errorf("without the interception: exit %d, stdout %q, stderr %q; want 255 and one line naming the profile and https://%s",
				r.code, r.stdout, r.stderr, stsHost)
		}
		if n := len(h.emu.AssumedRoles()); n != 1 {
			t.Errorf("without the interception AssumeRole still reached the emulator (%d calls)", n)
		}
		outputs = append(outputs, r.stdout, r.stderr)

		// The AK profile next to it signs with the source key itself and assumes nothing.
		before := len(h.emu.SignedBy("StartTerminalSession"))
		r = h.run("", "--profile", "default", "exec", demoInstance, "--", "echo ok")
		if r.code != 0 || r.stdout != "ok\n" || r.stderr != "" {
			t.Fatalf("exec with the AK profile: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if ids := h.emu.SignedBy("StartTerminalSession")[before:]; !slices.Equal(ids, []string{h.emu.Credential().AccessKeyID}) || len(h.emu.AssumedRoles()) != 1 {
			t.Errorf("AK profile: StartTerminalSession signed by %v, %d AssumeRole calls; want the source key and still 1", ids, len(h.emu.AssumedRoles()))
		}
		outputs = append(outputs, r.stdout, r.stderr)
		checkNoSecrets(t, h, outputs...)
	})

	t.Run("wrong source secret", func(t *testing.T) {
		h := newRoleHarness(t, stsHost, emulator.Options{})
		r := h.runIntercepted(ic, "--profile", "ops-badkey", "exec", demoInstance, "--", "echo ok")
		if r.code != 255 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 255 and one line", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{`"ops-badkey"`, "AssumeRole", "SignatureDoesNotMatch", "RequestId"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q does not say %q", r.stderr, want)
			}
		}
		if g, s := h.emu.AssumedRoles(), h.emu.Signers(); len(g) != 0 || len(s) != 0 {
			t.Errorf("a refused AssumeRole granted %+v, and the emulator answered %v", g, s)
		}
		checkNoSecrets(t, h, r.stdout, r.stderr)
	})

	// Credentials that expire within credentials-go's 180 s margin are renewed before every use
	// (needUpdateCredential in providers/ram_role_arn.go), so a run of several API calls assumes
	// the role again and again, and its calls go out under more than one key. --debug and the
	// SDK's own debug switches are on: the renewals must not print a secret either.
	t.Run("refresh", func(t *testing.T) {
		h := newRoleHarness(t, stsHost, emulator.Options{STSLifetime: 2 * time.Minute})
		h.setenv("DEBUG", "dara,tea,credential,sdk")
		r := h.runIntercepted(ic, "--debug", "--profile", "ops", "exec", demoInstance, "--", "echo ok")
		if r.code != 0 || r.stdout != "ok\n" {
			t.Fatalf("exec with short-lived role credentials: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "level=DEBUG") {
			t.Error("--debug printed nothing; the secrets check would prove little")
		}
		grants := h.emu.AssumedRoles()
		used := checkSigners(t, h)
		if len(grants) < 2 || len(used) < 2 {
			t.Errorf("%d AssumeRole calls, ECS calls under %d keys; want at least 2 of each", len(grants), len(used))
		}
		checkNoSecrets(t, h, r.stdout, r.stderr)
	})
}
