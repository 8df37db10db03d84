package attach

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/timing"
)

// TestTimingMarksEachStep: the Recorder of Config.Timing (--timing) hears each step of opening a
// shell, an exec exchange and a port channel: preflight, StartTerminalSession, WebSocket open,
// and, for the sessions that show output, first output.
func TestTimingMarksEachStep(t *testing.T) {
	_, c := testEmulator(t, emulator.Options{})
	sessionSteps := []string{"preflight", "StartTerminalSession", "WebSocket open", "first output"}
	tests := []struct {
		name  string
		steps []string
		run   func(t *testing.T, a *Attacher)
	}{
		{name: "shell", steps: sessionSteps, run: func(t *testing.T, a *Attacher) {
			var out bytes.Buffer
			err := a.Shell(testCtx(t), ShellOptions{Target: Target{InstanceID: demoID},
				Streams: Streams{Stdin: strings.NewReader("echo hi\nexit\n"), Stdout: &out}})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{name: "exec", steps: sessionSteps, run: func(t *testing.T, a *Attacher) {
			var out bytes.Buffer
			st, err := a.Exec(testCtx(t), ExecOptions{Target: Target{InstanceID: demoID},
				Streams: Streams{Stdout: &out}, Command: "echo hi"})
			if err != nil || st != 0 || out.String() != "hi\n" {
				t.Fatalf("status %d, err %v, stdout %q", st, err, out.String())
			}
		}},
		{name: "ports", steps: sessionSteps[:3], run: func(t *testing.T, a *Attacher) {
			port := bannerServer(t)
			ports := a.Ports(testCtx(t), PortOptions{InstanceID: idDemo})
			defer ports.Close()
			st, err := ports.Open(testCtx(t), "", port)
			if err != nil {
				t.Fatal(err)
			}
			use(t, st)()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := timing.New(time.Now())
			tt.run(t, New(Config{API: c, Timing: rec}))
			sum := rec.Summary()
			for _, step := range tt.steps {
				if !strings.Contains(sum, " "+step+" ") {
					t.Errorf("the timing lacks %q: %s", step, sum)
				}
			}
		})
	}
}
