//go:build unix

package emulator

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A copy stopped at the end of the grace keeps what the pipe already holds, though a process
// outside the group still holds its other end: on a loaded machine the grace can run out before
// the copy has read output the script wrote before it exited.
func TestStopCopyKeepsWhatThePipeHolds(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if _, err := w.WriteString("written before the script exited\n"); err != nil {
		t.Fatal(err)
	}
	// The copy has stopped (the read deadline ends it) before reading anything; w stays open.
	copied := make(chan struct{})
	close(copied)
	var out bytes.Buffer
	stopCopy(r, &out, copied)
	if got := out.String(); got != "written before the script exited\n" {
		t.Errorf("kept %q, want what the pipe held", got)
	}
}

// A process that leaves the script's process group and keeps the output pipe open does not hold
// the invocation past the grace, and output written before the script exited is kept.
func TestRunScriptOutputWithAHolderOutsideTheGroup(t *testing.T) {
	dir := t.TempDir()
	// The holder writes its pid once it has left the group; the script exits only then.
	script := `echo kept; setsid sh -c 'echo $$ > holder.pid; exec sleep 60' & until [ -s holder.pid ]; do sleep 0.01; done`
	spec := scriptSpec{script: script, dir: dir, timeout: time.Minute}
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(dir, "holder.pid")); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	var out bytes.Buffer
	ran := make(chan outcome, 1)
	go func() { ran <- runScript(context.Background(), spec, os.Environ(), &out, func() {}) }()
	select {
	case o := <-ran:
		if o.exitCode != 0 || o.timedOut || o.stopped || o.startErr {
			t.Errorf("outcome %+v, want a clean exit", o)
		}
	case <-time.After(30 * time.Second): // failsafe only: the grace is one second
		t.Fatal("runScript waited for the process that left the group")
	}
	if got := out.String(); got != "kept\n" {
		t.Errorf("output %q, want %q", got, "kept\n")
	}
}
