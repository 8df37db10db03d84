//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// sshInstance is an emulated instance whose sshd is a private OpenSSH server on loopback: the
// session user's home is in the emulator's state directory, and sshd reads authorized_keys
// from there (and from a file of the test's own key), never from /root/.ssh.
type sshInstance struct {
	h        *harness
	port     int
	authKeys string // the instance user's ~/.ssh/authorized_keys
	userKey  string // a client key sshd also accepts (for ssh-config's users)
}

// newSSHInstance starts the emulator and an sshd serving hostKeys (nil: the machine's own, in
// /etc/ssh, which the session reads), or skips the test saying why it cannot.
func newSSHInstance(t *testing.T, hostKeys []string) *sshInstance {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	if _, err := os.Stat(sshd); err != nil {
		t.Skip("OpenSSH's server is not installed (Debian: apt-get install openssh-server)")
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("OpenSSH's client is not installed (Debian: apt-get install openssh-client)")
	}
	if hostKeys == nil {
		hostKeys, _ = filepath.Glob("/etc/ssh/ssh_host_*_key")
		if len(hostKeys) == 0 {
			t.Skip("no host keys in /etc/ssh (dpkg-reconfigure openssh-server makes them)")
		}
	}
	state, dir := t.TempDir(), t.TempDir()
	h := newHarness(t, emulator.Options{StateDir: state})
	s := &sshInstance{h: h, authKeys: filepath.Join(state, demoInstance, ".ssh", "authorized_keys"),
		userKey: filepath.Join(dir, "user_key")}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", s.userKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var conf strings.Builder
	fmt.Fprintf(&conf, "Port %d\nListenAddress 127.0.0.1\nPidFile %s\n", s.port, filepath.Join(dir, "sshd.pid"))
	for _, k := range hostKeys {
		fmt.Fprintf(&conf, "HostKey %s\n", k)
	}
	fmt.Fprintf(&conf, "AuthorizedKeysFile %s %s\n", s.authKeys, s.userKey+".pub")
	conf.WriteString("StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n" +
		"PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n")
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll("/run/sshd", 0o755) // sshd insists on its privilege-separation directory
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd's log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %d: %s", s.port, logs.String())
		}
		time.Sleep(20 * time.Millisecond) // failsafe poll for a process we do not control
	}
	return s
}

// ecstermKeys returns the lines of the instance's authorized_keys that are ecsterm's.
func (s *sshInstance) ecstermKeys(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(s.authKeys)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "ecsterm") {
			out = append(out, l)
		}
	}
	return out
}

// TestSSHEphemeralKey: with nothing installed beforehand, `ecsterm ssh` logs in and runs a
// remote command with no host key question; the key is gone while ssh still runs (it goes once
// ssh has logged in), an expired key of an earlier run goes too, the user's own lines and the
// file's mode stay, and the remote status is ecsterm's.
func TestSSHEphemeralKey(t *testing.T) {
	s := newSSHInstance(t, nil)
	if err := os.MkdirAll(filepath.Dir(s.authKeys), 0o700); err != nil {
		t.Fatal(err)
	}
	mine := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJpY2hhcmQncyBvd24ga2V5IG5vdCBlY3N0ZXJtcyBlaXRoZXI= someone@laptop"
	stale := `expiry-time="20200101000000" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFN0YWxlIGtleSBvZiBhbiBlYXJsaWVyIHJ1biBvZiBlY3N0ZXI= ecsterm-ephemeral-0123456789abcdef-1577836800`
	if err := os.WriteFile(s.authKeys, []byte(mine+"\n"+stale+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.authKeys, 0o640); err != nil {
		t.Fatal(err)
	}
	// The remote command waits (bounded) until no ecsterm key is left, then says so.
	wait := fmt.Sprintf(`for i in $(seq 300); do grep -q ecsterm-ephemeral %s || { echo key-gone-while-logged-in; exit 7; }; sleep 0.1; done; echo key-still-there`, s.authKeys)
	r := s.h.run("", "ssh", "-p", strconv.Itoa(s.port), demoInstance, "--", wait)
	if r.code != 7 || r.stdout != "key-gone-while-logged-in\n" {
		t.Fatalf("ecsterm ssh: exit %d (want the remote 7), stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r.stderr != "" { // no host key question or warning, nothing from ecsterm either
		t.Errorf("stderr: %q", r.stderr)
	}
	if keys := s.ecstermKeys(t); len(keys) != 0 {
		t.Errorf("ecsterm's keys left on the instance: %q", keys)
	}
	b, _ := os.ReadFile(s.authKeys)
	if string(b) != mine+"\n" {
		t.Errorf("authorized_keys is now %q, want only the user's own line", b)
	}
	if fi, err := os.Stat(s.authKeys); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("authorized_keys' mode: %v, %v (want 0640 kept)", fi.Mode(), err)
	}
	pinned, err := os.ReadFile(filepath.Join(s.h.home, ".config", "ecsterm", "known_hosts"))
	if err != nil || !strings.HasPrefix(string(pinned), demoInstance+" ") {
		t.Errorf("pinned host keys: %q, %v", pinned, err)
	}

	// A user name given with -l is the one logged in as, and arguments after -- reach ssh.
	r = s.h.run("", "ssh", "-l", "root", "-p", strconv.Itoa(s.port), demoInstance, "--", "-o", "LogLevel=ERROR", "id -un")
	if r.code != 0 || r.stdout != "root\n" {
		t.Errorf("ecsterm ssh -l root: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestSSHHostKeyMismatch: an sshd whose host key is not the one read through the session is
// refused by ssh, and the key is removed all the same.
func TestSSHHostKeyMismatch(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other_host_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen: %v: %s", err, out)
	}
	s := newSSHInstance(t, []string{other})
	r := s.h.run("", "ssh", "-p", strconv.Itoa(s.port), demoInstance, "--", "echo should-not-run")
	if r.code != 255 || r.stdout != "" || !strings.Contains(r.stderr, "Host key verification failed") {
		t.Fatalf("a foreign host key: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if keys := s.ecstermKeys(t); len(keys) != 0 {
		t.Errorf("ecsterm's keys left on the instance: %q", keys)
	}
}

// TestSSHInterrupted: ecsterm ssh interrupted while ssh runs (here, still waiting for the
// server's greeting, so the key is in place) removes the key before it exits.
func TestSSHInterrupted(t *testing.T) {
	s := newSSHInstance(t, nil)
	accepted := make(chan []string, 1)
	hold := make(chan struct{})
	defer close(hold)                       // before tcpServer's cleanup, which waits for this handler
	port := tcpServer(t, func(c net.Conn) { // says nothing: ssh waits for a greeting
		accepted <- s.ecstermKeys(t)
		<-hold
	})
	cmd := s.h.command("ssh", "-p", strconv.Itoa(port), demoInstance, "--", "true")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case keys := <-accepted:
		if len(keys) != 1 {
			t.Fatalf("while ssh connects, the instance has ecsterm keys %q, want one", keys)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("ssh never connected; stderr %q", errb.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("interrupted: %v (want status 130), stderr %q", err, errb.String())
	}
	if keys := s.ecstermKeys(t); len(keys) != 0 {
		t.Errorf("ecsterm's keys left on the instance after the interrupt: %q", keys)
	}
}

// TestSSHConfig: `ecsterm ssh` pins the host keys, and the block `ecsterm ssh-config` prints
// lets scp and rsync -e ssh copy a file both ways, by instance ID and by name, with the user's
// own key and strict host key checking.
func TestSSHConfig(t *testing.T) {
	s := newSSHInstance(t, nil)
	if r := s.h.run("", "ssh", "-p", strconv.Itoa(s.port), demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("ecsterm ssh (to pin the host keys): exit %d, stderr %q", r.code, r.stderr)
	}
	r := s.h.run("", "ssh-config", demoInstance)
	if r.code != 0 || !strings.Contains(r.stdout, "Host "+demoInstance+" demo-web-01\n") ||
		!strings.Contains(r.stdout, "HostKeyAlias "+demoInstance+"\n") || !strings.Contains(r.stdout, "StrictHostKeyChecking yes\n") {
		t.Fatalf("ssh-config: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	cfg := filepath.Join(t.TempDir(), "config")
	extra := fmt.Sprintf("Host *\n    Port %d\n    User root\n    IdentityFile %s\n    IdentitiesOnly yes\n    BatchMode yes\n", s.port, s.userKey)
	if err := os.WriteFile(cfg, []byte(r.stdout+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, want := randomBytes(256 << 10)
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(name string) {
		t.Helper()
		got, err := os.ReadFile(name)
		if err != nil || sha(got) != want {
			t.Errorf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	for _, host := range []string{demoInstance, "demo-web-01"} {
		up, down := filepath.Join(dir, host+".up"), filepath.Join(dir, host+".down")
		if _, stderr, err := s.h.runTool("scp", "-F", cfg, src, host+":"+up); err != nil {
			t.Fatalf("scp to %s: %v, stderr %q", host, err, stderr)
		}
		check(up)
		if _, stderr, err := s.h.runTool("scp", "-F", cfg, host+":"+up, down); err != nil {
			t.Fatalf("scp from %s: %v, stderr %q", host, err, stderr)
		}
		check(down)
	}

	// A host whose keys were never pinned is refused, not asked about.
	unpinned := filepath.Join(t.TempDir(), "unpinned")
	if err := os.WriteFile(unpinned, []byte(strings.ReplaceAll(r.stdout+extra, demoInstance, legacyInstance)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := s.h.runTool("ssh", "-F", unpinned, legacyInstance, "true"); err == nil || !strings.Contains(stderr, "Host key verification failed") {
		t.Errorf("an unpinned host: %v, stderr %q", err, stderr)
	}

	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync is not installed (Debian: apt-get install rsync); the rest was checked")
	}
	up, down := filepath.Join(dir, "rsync.up"), filepath.Join(dir, "rsync.down")
	if _, stderr, err := s.h.runTool("rsync", "-e", "ssh -F "+cfg, src, "demo-web-01:"+up); err != nil {
		t.Fatalf("rsync to: %v, stderr %q", err, stderr)
	}
	check(up)
	if _, stderr, err := s.h.runTool("rsync", "-e", "ssh -F "+cfg, demoInstance+":"+up, down); err != nil {
		t.Fatalf("rsync from: %v, stderr %q", err, stderr)
	}
	check(down)
}

// TestSSHRefusals: no ssh on PATH, nothing listening on the instance's port, a Windows
// instance: each is refused before any key is installed, saying what to do.
func TestSSHRefusals(t *testing.T) {
	s := newSSHInstance(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) // nothing listens there once closed
	ln.Close()

	r := s.h.run("", "ssh", "-p", closedPort, demoInstance, "--", "true")
	if r.code != 255 || !strings.Contains(r.stderr, "nothing listens on port "+closedPort) {
		t.Errorf("no sshd: exit %d, stderr %q", r.code, r.stderr)
	}
	r = s.h.run("", "ssh", "i-emu0windows000006")
	if r.code != 255 || !strings.Contains(r.stderr, "runs Windows") || !strings.Contains(r.stderr, "ecsterm connect") {
		t.Errorf("Windows: exit %d, stderr %q", r.code, r.stderr)
	}
	s.h.setenv("PATH", t.TempDir())
	r = s.h.run("", "ssh", "-p", strconv.Itoa(s.port), demoInstance)
	if r.code != 255 || !strings.Contains(r.stderr, "no ssh on PATH") {
		t.Errorf("no ssh: exit %d, stderr %q", r.code, r.stderr)
	}
	if keys := s.ecstermKeys(t); len(keys) != 0 {
		t.Errorf("a refusal left keys on the instance: %q", keys)
	}
}

// TestSSHOnPTY: on a terminal, ssh gets the terminal itself (it goes raw for the remote shell
// and comes back as it was), keys typed reach the remote shell, and the key is gone after.
func TestSSHOnPTY(t *testing.T) {
	s := newSSHInstance(t, nil)
	tm := newTerminal(t, 24, 80)
	before := tm.termios(t)
	// sh, not root's login shell: nothing is written to the real /root (no history file).
	cmd := s.h.command("ssh", "-p", strconv.Itoa(s.port), demoInstance, "--", "-t", "exec sh -i")
	tm.start(t, cmd)
	tm.typeIn("echo hi-$((6*7))\r")
	at := tm.scr.waitFor(t, 0, "hi-42")
	tm.typeIn("exit 5\r")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Fatalf("ecsterm ssh on a terminal: %v (want the remote 5)\n%s", err, tm.scr.String()[at:])
	}
	if after := tm.termios(t); after != before {
		t.Errorf("terminal not restored:\nbefore %+v\nafter  %+v", before, after)
	}
	if keys := s.ecstermKeys(t); len(keys) != 0 {
		t.Errorf("ecsterm's keys left on the instance: %q", keys)
	}
}

// TestSSHConfigAllInstances: the Host i-* block that ssh-config prints without targets checks
// the pinned host keys whatever port sshd listens on, as the blocks for named instances do.
func TestSSHConfigAllInstances(t *testing.T) {
	s := newSSHInstance(t, nil)
	if r := s.h.run("", "ssh", "-p", strconv.Itoa(s.port), demoInstance, "--", "true"); r.code != 0 {
		t.Fatalf("ecsterm ssh (to pin the host keys): exit %d, stderr %q", r.code, r.stderr)
	}
	r := s.h.run("", "ssh-config")
	if r.code != 0 || !strings.Contains(r.stdout, "Host i-*\n") {
		t.Fatalf("ssh-config: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	cfg := filepath.Join(t.TempDir(), "config")
	extra := fmt.Sprintf("Host *\n    Port %d\n    User root\n    IdentityFile %s\n    IdentitiesOnly yes\n    BatchMode yes\n", s.port, s.userKey)
	if err := os.WriteFile(cfg, []byte(r.stdout+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, err := s.h.runTool("ssh", "-F", cfg, demoInstance, "echo in-$((2*3))"); err != nil || !strings.Contains(out, "in-6") {
		t.Fatalf("ssh through the i-* block on port %d: %v, stdout %q, stderr %q", s.port, err, out, stderr)
	}
}
