package persist

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDirIsPrivate(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 || dir != filepath.Join(rt, "ecsterm") {
		t.Fatalf("%s: %v %v", dir, fi.Mode(), err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(); err == nil || !strings.Contains(err.Error(), "open to other users") {
		t.Errorf("a directory open to others: %v, want it refused", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := Dir(); err == nil || !strings.Contains(err.Error(), "not yours") {
			t.Errorf("another user's directory: %v, want it refused", err)
		}
		if err := os.Chown(dir, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a link to a directory: %v, want it refused", err)
	}
}

func TestKeyNamesDiffer(t *testing.T) {
	a := Key{Endpoint: "e", Region: "r", InstanceID: "i-1", User: "root"}
	b := a
	b.User = "admin"
	c := Key{Endpoint: "e", Region: "r", InstanceID: "i-1root"} // the parts are delimited
	if a.name() == b.name() || a.name() == c.name() || len(a.name()) != 16 {
		t.Errorf("%s %s %s", a.name(), b.name(), c.name())
	}
	if _, err := socketPath("/"+strings.Repeat("d", 100), a); err == nil {
		t.Error("a socket path too long for a Unix socket was accepted")
	}
}

// A socket left by a holder killed without cleaning up is replaced by the next holder, and a
// client finds that one.
func TestStaleSocketIsReplaced(t *testing.T) {
	dir := t.TempDir()
	key := Key{InstanceID: "i-test", User: "root"}
	sock, err := socketPath(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatal("the stale socket should still be there:", err)
	}
	svc := newService()
	served := make(chan error, 1)
	var h *Holder
	c := &Client{Key: key, Dir: dir, Start: func() (<-chan error, error) {
		var err error
		h, err = Listen(dir, Config{Key: key, Idle: time.Minute, Open: svc.open, NewWarm: svc.newWarm, CommandLine: "warm-bootstrap"})
		if err != nil {
			return nil, err
		}
		go func() { served <- h.Serve(t.Context()) }()
		return nil, nil
	}}
	st, out, _, err := run(t, c, "echo fresh", "")
	if err != nil || st != 0 || out != "fresh\n" {
		t.Fatalf("%d %q %v", st, out, err)
	}
	h.Stop(errStopped)
	if err := <-served; err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the holder left its socket: %v", err)
	}
}

// A holder that fails to start sends its command cold at once, not after the wait for its
// socket.
func TestHolderThatFailsToStartSendsCold(t *testing.T) {
	c := &Client{Key: Key{InstanceID: "i-test"}, Dir: t.TempDir(), Start: func() (<-chan error, error) {
		exited := make(chan error, 1)
		exited <- errors.New("exit status 255")
		return exited, nil
	}}
	_, _, _, err := run(t, c, "echo x", "")
	if !errors.Is(err, ErrCold) || !strings.Contains(err.Error(), "failed to start: exit status 255") {
		t.Errorf("%v, want ErrCold saying the holder failed to start", err)
	}
}
