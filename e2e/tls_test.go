//go:build linux

package e2e

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// The emulator over https and wss with a self-signed certificate. ecsterm trusts it through the
// standard SSL_CERT_FILE, read by Go's crypto/x509 for both the SDK's HTTP transport and the
// WebSocket dialer; nothing in ecsterm turns verification off.

// newTLSHarness starts a TLS emulator and returns the harness (without SSL_CERT_FILE) and the
// path of a file holding the certificate to trust.
func newTLSHarness(t *testing.T) (*harness, string) {
	t.Helper()
	h := newHarness(t, emulator.Options{TLS: true})
	if !strings.HasPrefix(h.emu.Endpoint(), "https://") {
		t.Fatalf("TLS emulator endpoint %q", h.emu.Endpoint())
	}
	ca := filepath.Join(t.TempDir(), "emulator-ca.pem")
	if err := os.WriteFile(ca, h.emu.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return h, ca
}

func TestTLSExec(t *testing.T) {
	h, ca := newTLSHarness(t)
	h.setenv("SSL_CERT_FILE", ca)
	r := h.run("in\n", "exec", demoInstance, "--", "echo over-wss-$((6*7)); cat; exit 3")
	if r.code != 3 || r.stdout != "over-wss-42\nin\n" || r.stderr != "" {
		t.Fatalf("exec over https/wss: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestTLSConnect(t *testing.T) {
	h, ca := newTLSHarness(t)
	h.setenv("SSL_CERT_FILE", ca)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	cmd := h.command("connect", demoInstance)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scr := newScreen()
	go io.Copy(scr, ptmx)
	at := scr.waitFor(t, 0, "@demo-web-01 ~]")
	io.WriteString(ptmx, "echo hi-$((6*7))\r")
	scr.waitFor(t, at, "hi-42")
	io.WriteString(ptmx, "exit\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ecsterm connect over wss: %v\n%s", err, scr.String())
	}
}

// TestTLSUntrusted runs ecsterm against the TLS emulator without trusting its certificate: the
// system roots do not hold it, so the first call fails verification, with one line and 255.
func TestTLSUntrusted(t *testing.T) {
	h, _ := newTLSHarness(t)
	for _, args := range [][]string{
		{"exec", demoInstance, "--", "true"},
		{"connect", demoInstance},
	} {
		r := h.run("", args...)
		if r.code != 255 || !strings.Contains(r.stderr, "certificate") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s without SSL_CERT_FILE: exit %d, stderr %q; want 255 and one line about the certificate", args[0], r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%s without SSL_CERT_FILE: stdout %q", args[0], r.stdout)
		}
		if strings.Contains(r.stderr, "attempts") {
			t.Errorf("%s without SSL_CERT_FILE: a certificate error was retried: %q", args[0], r.stderr)
		}
	}
	if n := h.emu.Calls("StartTerminalSession"); n != 0 {
		t.Errorf("StartTerminalSession answered %d times to clients that could not verify the server", n)
	}
}
