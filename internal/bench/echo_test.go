//go:build unix

package bench

import (
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestEchoDriver types into a local program that does what the remote end of an echo
// measurement does, on the driver's own PTY: the driver sees every key come back.
func TestEchoDriver(t *testing.T) {
	e, err := StartEcho(exec.Command("sh", "-c", EchoCommand), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []byte("abcxyz") {
		if d, err := e.Type(c); err != nil || d <= 0 {
			t.Fatalf("Type(%q) = %v, %v", c, d, err)
		}
	}
	if peak, ok := e.PeakRSS(); runtime.GOOS == "linux" && (!ok || peak <= 0) {
		t.Errorf("PeakRSS = %v, %v on Linux", peak, ok)
	}
	e.Kill()
}
