package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// TestTimingReachesSessions: --timing hears the steps of the sessions every command opens: those
// of the Factory's Sessions (connect here; exec, cp, ssh, forward and proxy share it) and those
// of demo, which opens its session over its own emulator.
func TestTimingReachesSessions(t *testing.T) {
	isolate(t)
	emu, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	cred := emu.Credential()
	t.Setenv("ECSTERM_ENDPOINT", emu.Endpoint())
	t.Setenv("ALIBABA_CLOUD_REGION_ID", emu.Region())
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", cred.AccessKeyID)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", cred.AccessKeySecret)
	for name, args := range map[string][]string{
		"connect": {"--timing", "connect", "i-emu0demo000000001"},
		"demo":    {"--timing", "demo", "--agent-delay", "0"},
	} {
		t.Run(name, func(t *testing.T) {
			ios, stdin, _, stderr := iostreams.Test()
			stdin.WriteString("exit\n")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if code := Run(ctx, ios, args); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			for _, step := range []string{"preflight", "StartTerminalSession", "WebSocket open", "first output"} {
				if !strings.Contains(stderr.String(), " "+step+" ") {
					t.Errorf("the timing line lacks %q: %q", step, stderr)
				}
			}
		})
	}
}
