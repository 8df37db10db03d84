package ssh

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runScript runs a key script with sh as it runs on an instance, with home as $HOME.
func runScript(t *testing.T, home, script string) (int, string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestScriptsInstallAndRemove: install creates ~/.ssh and authorized_keys with the right modes,
// appends the key with its expiry and comment, drops expired ecsterm keys and keeps the rest;
// remove takes the key away and nothing else.
func TestScriptsInstallAndRemove(t *testing.T) {
	if _, err := os.Stat("/etc/ssh"); err != nil {
		t.Skip("no /etc/ssh here")
	}
	if m, _ := filepath.Glob("/etc/ssh/ssh_host_*_key.pub"); len(m) == 0 {
		t.Skip("no host keys in /etc/ssh")
	}
	home := t.TempDir()
	k, err := newKeyPair("")
	if err != nil {
		t.Fatal(err)
	}
	// Port 0 is never listening: /proc says no, unless there is no /proc (unknown).
	status, out := runScript(t, home, installScript(k.public, "00aa", 0, time.Minute, "20990101000000Z"))
	if _, err := os.Stat("/proc/net/tcp"); err == nil {
		if status != exitNotListened || strings.Contains(out, "installed") {
			t.Fatalf("port 0: status %d, out %q", status, out)
		}
		if _, err := os.Stat(filepath.Join(home, ".ssh")); err == nil {
			t.Error("a refused install created ~/.ssh")
		}
	}
	// Any listening port of this machine passes; make one (port check only, no sshd needed).
	port := listeningPort(t)
	status, out = runScript(t, home, installScript(k.public, "00aa", port, time.Minute, "20990101000000Z"))
	rep := parseReport([]byte(out))
	if status != 0 || !rep.Installed || rep.User == "" || len(rep.HostKeys) == 0 || rep.Listening != "yes" {
		t.Fatalf("install: status %d, report %+v, out %q", status, rep, out)
	}
	ak := filepath.Join(home, ".ssh", "authorized_keys")
	for name, want := range map[string]os.FileMode{filepath.Join(home, ".ssh"): 0o700, ak: 0o600} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v, want %v", name, fi, err, want)
		}
	}
	b, _ := os.ReadFile(ak)
	line := strings.TrimSpace(string(b))
	if !strings.HasPrefix(line, `expiry-time="`) || !strings.Contains(line, " "+k.public+" ecsterm-ephemeral-00aa-") {
		t.Fatalf("installed line %q", line)
	}

	// Another run's line, a user's own line, and an expired key of ecsterm's.
	mine := "ssh-ed25519 AAAAmine user@laptop"
	expired := fmt.Sprintf("ssh-ed25519 AAAAold ecsterm-ephemeral-00bb-%d", time.Now().Add(-time.Hour).Unix())
	live := fmt.Sprintf("ssh-ed25519 AAAAlive ecsterm-ephemeral-00cc-%d", time.Now().Add(time.Hour).Unix())
	if err := os.WriteFile(ak, []byte(mine+"\n"+expired+"\n"+line+"\n"+live), 0o640); err != nil { // no final newline
		t.Fatal(err)
	}
	os.Chmod(ak, 0o640)
	if status, out := runScript(t, home, removeScript("00aa")); status != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("remove: status %d, out %q", status, out)
	}
	b, _ = os.ReadFile(ak)
	if string(b) != mine+"\n"+live+"\n" {
		t.Errorf("after remove: %q", b)
	}
	if fi, _ := os.Stat(ak); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after remove: %v (want 0640 kept)", fi.Mode())
	}
}

// TestScriptFollowsSymlink: an authorized_keys that is a symbolic link is edited where it points.
func TestScriptFollowsSymlink(t *testing.T) {
	home, elsewhere := t.TempDir(), t.TempDir()
	real := filepath.Join(elsewhere, "keys")
	live := fmt.Sprintf("ssh-ed25519 AAAAlive ecsterm-ephemeral-00dd-%d\nmine\n", time.Now().Add(time.Hour).Unix())
	if err := os.WriteFile(real, []byte(live), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(home, ".ssh"), 0o700)
	link := filepath.Join(home, ".ssh", "authorized_keys")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if status, out := runScript(t, home, removeScript("00dd")); status != 0 {
		t.Fatalf("remove: %d %q", status, out)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(real); string(b) != "mine\n" {
		t.Errorf("target now %q", b)
	}
}
