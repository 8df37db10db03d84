//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/bench"
	"github.com/ecsterm/ecsterm/internal/emulator"
)

// privateSSHD starts OpenSSH's server on a free loopback port with its own keys, or skips the
// test saying why it cannot.
func privateSSHD(t *testing.T) (sshd *bench.SSHD, key string) {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("the OpenSSH client (ssh) is not installed")
	}
	sshd, err := bench.StartSSHD(context.Background())
	if errors.Is(err, bench.ErrNoSSHD) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatalf("starting a private sshd: %v", err)
	}
	t.Cleanup(sshd.Close)
	args := sshd.SSHArgs()
	for i, a := range args {
		if a == "-i" && i+1 < len(args) {
			key = args[i+1]
		}
	}
	return sshd, key
}

// runTool runs an OpenSSH tool with the harness's environment (which ssh hands to the
// ProxyCommand, so ecsterm finds the emulator).
func (h *harness) runTool(name string, args ...string) (string, string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = h.env
	cmd.Dir = h.home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), errb.String(), err
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		return out.String(), errb.String(), fmt.Errorf("%s timed out", name)
	}
}

func proxyCommand() string { return "ProxyCommand=" + binary + " proxy %h %p" }

// TestProxySSH: ssh, scp and an ~/.ssh/config block reach a real OpenSSH server through
// `ecsterm proxy`, on both agent generations.
func TestProxySSH(t *testing.T) {
	sshd, key := privateSSHD(t)
	h := newHarness(t, emulator.Options{AgentStartDelay: 300 * time.Millisecond})
	for _, inst := range []string{demoInstance, legacyInstance} {
		t.Run(inst, func(t *testing.T) {
			args := sshd.SSHArgs("-o", proxyCommand())
			args[len(args)-1] = "root@" + inst // %h is the instance; the port is sshd's
			out, stderr, err := h.runTool("ssh", append(args, "echo hello-over-proxy")...)
			if err != nil || out != "hello-over-proxy\n" {
				t.Fatalf("ssh through ecsterm proxy: %v, stdout %q, stderr %q", err, out, stderr)
			}
		})
	}

	t.Run("scp", func(t *testing.T) {
		dir := t.TempDir()
		data, want := randomBytes(1 << 20)
		src, dst := filepath.Join(dir, "src.bin"), filepath.Join(dir, "dst.bin")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// -O: the classic scp protocol; the private sshd runs no SFTP subsystem.
		_, stderr, err := h.runTool("scp", "-O", "-F", "/dev/null", "-i", key, "-P", strconv.Itoa(sshd.Port),
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"-o", "BatchMode=yes", "-o", proxyCommand(), src, "root@"+demoInstance+":"+dst)
		if err != nil {
			t.Fatalf("scp: %v, stderr %q", err, stderr)
		}
		got, err := os.ReadFile(dst)
		if err != nil || sha(got) != want {
			t.Fatalf("scp of 1 MiB: %d bytes arrived, %v", len(got), err)
		}
	})

	t.Run("rsync", func(t *testing.T) {
		if _, err := exec.LookPath("rsync"); err != nil {
			t.Skip("rsync is not installed (Debian: apt-get install rsync)")
		}
		src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
		data, want := randomBytes(1 << 20)
		if err := os.MkdirAll(filepath.Join(src, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "sub", "f.bin"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		sshCmd := fmt.Sprintf("ssh -F /dev/null -i %s -p %d -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -o '%s'",
			key, sshd.Port, proxyCommand())
		_, stderr, err := h.runTool("rsync", "-a", "-e", sshCmd, src+"/", "root@"+demoInstance+":"+dst+"/")
		if err != nil {
			t.Fatalf("rsync: %v, stderr %q", err, stderr)
		}
		got, err := os.ReadFile(filepath.Join(dst, "sub", "f.bin"))
		if err != nil || sha(got) != want {
			t.Fatalf("rsync of 1 MiB: %d bytes arrived, %v", len(got), err)
		}
	})

	t.Run("ssh_config", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "config")
		block := fmt.Sprintf(`Host i-* demo-*
    ProxyCommand %s proxy %%h %%p
    Port %d
    User root
    IdentityFile %s
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
    BatchMode yes
`, binary, sshd.Port, key)
		if err := os.WriteFile(cfg, []byte(block), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{demoInstance, "demo-web-01"} { // by ID, and by name
			out, stderr, err := h.runTool("ssh", "-F", cfg, host, "echo via-config")
			if err != nil || out != "via-config\n" {
				t.Fatalf("ssh %s with a config block: %v, stdout %q, stderr %q", host, err, out, stderr)
			}
		}
	})
}

// TestProxyStdio: bytes both ways, the remote side closing ends ecsterm with 0, and stdin's end
// reaches the server as end of file.
func TestProxyStdio(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	got := make(chan string, 1)
	eofPort := tcpServer(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		got <- string(b)
	})
	r := h.run("to the server", "proxy", demoInstance, strconv.Itoa(eofPort))
	if r.code != 0 || r.stdout != "" {
		t.Errorf("stdin EOF: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	select {
	case s := <-got:
		if s != "to the server" {
			t.Errorf("server read %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server never saw end of file")
	}

	byePort := tcpServer(t, func(c net.Conn) { _, _ = io.WriteString(c, "SSH-2.0-bye\r\n") })
	cmd := h.command("proxy", demoInstance, strconv.Itoa(byePort))
	pr, pw, err := os.Pipe() // stdin stays open: only the remote side ends this
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	cmd.Stdin = pr // a file, so exec starts no copying goroutine that would wait for its end
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || out.String() != "SSH-2.0-bye\r\n" {
		t.Errorf("remote close: %v, stdout %q, stderr %q", err, out.String(), errb.String())
	}

	r = h.run("", "proxy", "i-emu0stopped000002")
	if r.code != 255 || !strings.Contains(r.stderr, "Stopped") || r.stdout != "" {
		t.Errorf("stopped instance: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
