package emulator

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

func TestAsReal(t *testing.T) {
	given := map[string]bool{}
	changed := func(name string) bool { return given[name] }

	o := &Options{AgentDelay: 0, SessionLimit: time.Minute}
	o.asReal(changed)
	e := o.emuOptions()
	if e.AgentStartDelay != time.Second || !e.AgentPacing || e.SessionLimit != 3*time.Hour {
		t.Errorf("--real: delay %v, pacing %v, limit %v; want 1s, on, 3h", e.AgentStartDelay, e.AgentPacing, e.SessionLimit)
	}

	given["agent-delay"], given["session-limit"] = true, true
	o = &Options{AgentDelay: 0, SessionLimit: time.Minute, StreamRate: 800_000, IdleTimeout: 5 * time.Second, PortExit: true, LaterRedial: true, Sh: "/bin/bash"}
	o.asReal(changed)
	e = o.emuOptions()
	if e.AgentStartDelay != 0 || !e.AgentPacing || e.SessionLimit != time.Minute {
		t.Errorf("--real with --agent-delay 0 --session-limit 1m: delay %v, pacing %v, limit %v", e.AgentStartDelay, e.AgentPacing, e.SessionLimit)
	}
	if e.StreamRate != 800_000 || e.IdleTimeout != 5*time.Second || !e.PortCloseEndsChannel || !e.LaterAgentsRedial || e.Sh != "/bin/bash" {
		t.Errorf("options not passed on: %+v", e)
	}
}

// emulatorRun serves on loopback and prints the environment that points ecsterm at it; a
// context that has ended stops it at once.
func TestEmulatorRun(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	ios, _, out, errOut := iostreams.Test()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := &Options{IO: ios, Listen: "127.0.0.1:0", AccessKeyID: "LTAIemu", AccessSecret: "emu-secret", PerInstance: 1, PerRegion: 1}
	if err := emulatorRun(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export ECSTERM_ENDPOINT=http://127.0.0.1:", "export ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIemu\n",
		"export ALIBABA_CLOUD_ACCESS_KEY_SECRET=emu-secret\n", "export ALIBABA_CLOUD_ECS_METADATA_DISABLED=true\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(errOut.String(), "ecsterm emulator: serving region ") {
		t.Errorf("stderr %q", errOut)
	}

	o = &Options{IO: ios, Listen: "127.0.0.1:0", FleetFile: filepath.Join(t.TempDir(), "missing.yaml")}
	if err := emulatorRun(ctx, o); err == nil {
		t.Error("a missing fleet file was not an error")
	}
}

// RunE checks the flags, applies --real and fills the logger before the run function.
func TestNewCmdEmulator(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	logger := slog.New(slog.DiscardHandler)
	f := &cmdutil.Factory{IOStreams: ios, Logger: func() *slog.Logger { return logger }}
	var got *Options
	cmd := NewCmdEmulator(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--real", "--agent-delay", "0", "--sh", "/bin/bash"})
	if err := cmd.Execute(); err != nil || got.Logger != logger || got.IO != ios || !got.Pacing || got.AgentDelay != 0 || got.Sh != "/bin/bash" {
		t.Errorf("err %v, options %+v", err, got)
	}
	for _, args := range [][]string{{"--access-key-id", "x"}, {"--access-key-secret", "y"}, {"--stream-rate", "-1"}} {
		ran := false
		cmd := NewCmdEmulator(f, func(context.Context, *Options) error { ran = true; return nil })
		cmd.SetArgs(args)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		var fe *cmdutil.FlagError
		if err := cmd.Execute(); !errors.As(err, &fe) || ran {
			t.Errorf("%v: err %v, ran %v; want a usage error", args, err, ran)
		}
	}
}
