// Package emulator implements `ecsterm emulator`: the built-in emulator as a standalone server,
// for trying scripts against it.
package emulator

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	emu "github.com/ecsterm/ecsterm/internal/emulator"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// Options are the command's inputs: the server's settings, and where it reports.
type Options struct {
	IO           *iostreams.IOStreams
	Logger       *slog.Logger
	Listen       string
	FleetFile    string
	AgentDelay   time.Duration
	AccessKeyID  string
	AccessSecret string
	PerInstance  int
	PerRegion    int
	// The agent's behaviour and clocks (issue #13).
	Real         bool
	Pacing       bool
	StreamRate   int
	SessionLimit time.Duration
	IdleTimeout  time.Duration
	PortExit     bool
	LaterRedial  bool
	// Sh runs a session's sh as this program (emu.Options.Sh).
	Sh string
}

// NewCmdEmulator builds the command. runF replaces emulatorRun in tests of parsing.
func NewCmdEmulator(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{IO: f.IOStreams}
	if runF == nil {
		runF = emulatorRun
	}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the built-in Alibaba Cloud emulator on loopback",
		Long: `Run the emulator that 'ecsterm demo' and the tests use, as a server: the ECS OpenAPI (with
real signature checks), the session gateway and an agent per emulated instance, all on
127.0.0.1. It prints the environment to point ecsterm (or your own scripts) at it, then
serves until interrupted.`,
		Example: `  ecsterm emulator
  ecsterm emulator --listen 127.0.0.1:8900 --fleet fleet.yaml --agent-delay 0
  ecsterm emulator --real                      # the agent's speed and limits, as far as known
  ecsterm emulator --stream-rate 1638400       # the gateway's Stream rate: 200 KB/s
  ecsterm emulator --idle-timeout 10s --session-limit 2m   # the agent's clocks, scaled down
  ecsterm emulator --sh /bin/bash              # sh is bash, as on Alibaba Cloud Linux`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.StreamRate < 0 || o.SessionLimit < 0 || o.IdleTimeout < 0 {
				return cmdutil.FlagErrorf("--stream-rate, --session-limit and --idle-timeout cannot be negative")
			}
			if (o.AccessKeyID == "") != (o.AccessSecret == "") {
				return cmdutil.FlagErrorf("give both --access-key-id and --access-key-secret, or neither")
			}
			if o.Real {
				o.asReal(cmd.Flags().Changed)
			}
			if f.Logger != nil {
				o.Logger = f.Logger()
			}
			return runF(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:0", "loopback address to listen on (port 0 picks one)")
	fl.StringVar(&o.FleetFile, "fleet", "", "fleet YAML describing the instances (default: the built-in fleet)")
	fl.DurationVar(&o.AgentDelay, "agent-delay", time.Second, "agent start-up delay before a session's PTY exists (the real agent's is about 1s)")
	fl.StringVar(&o.AccessKeyID, "access-key-id", "", "AccessKey ID to accept (default: random)")
	fl.StringVar(&o.AccessSecret, "access-key-secret", "", "AccessKey secret to accept (default: random)")
	fl.IntVar(&o.PerInstance, "sessions-per-instance", 10, "connected sessions allowed per instance")
	fl.IntVar(&o.PerRegion, "sessions-per-region", 1000, "sessions allowed per region")
	fl.BoolVar(&o.Real, "real", false, "as real as known: the agent's 1s start, its output pacing and its 3h session limit")
	fl.BoolVar(&o.Pacing, "agent-pacing", false, "pace output as the agent does by default: shell 1 KiB every 40ms, port 2 KiB every 83ms (about 25 KB/s)")
	fl.IntVar(&o.StreamRate, "stream-rate", 0, "bits/s the gateway announces with a Stream status and holds both sides to (0: none)")
	fl.DurationVar(&o.SessionLimit, "session-limit", 3*time.Hour, "the agent ends every session this long after it opened")
	fl.DurationVar(&o.IdleTimeout, "idle-timeout", 180*time.Second, "the agent ends a session on which nothing arrived for this long")
	fl.BoolVar(&o.LaterRedial, "later-agents-redial", false, "agents later than 2.2.3.578 re-dial a closed port target on the next frame too, as some later versions do")
	fl.BoolVar(&o.PortExit, "invented-port-exit", false, "end a port session of an agent up to 2.2.3.578 when its target closes (no agent does; that agent re-dials the target on the next frame)")
	fl.StringVar(&o.Sh, "sh", "", "program that sessions run as sh (e.g. /bin/bash: Alibaba Cloud Linux, CentOS and RHEL images have bash as /bin/sh; default: this machine's sh)")
	return cmd
}

// asReal applies --real to the settings the user did not give: the agent's 1 s start, its
// pacing and its 3 h limit.
func (o *Options) asReal(changed func(string) bool) {
	if !changed("agent-delay") {
		o.AgentDelay = time.Second
	}
	if !changed("agent-pacing") {
		o.Pacing = true
	}
	if !changed("session-limit") {
		o.SessionLimit = 3 * time.Hour
	}
}

// emuOptions are the emulator's options for these settings.
func (o *Options) emuOptions() emu.Options {
	return emu.Options{AgentStartDelay: o.AgentDelay, SessionsPerInstance: o.PerInstance, SessionsPerRegion: o.PerRegion,
		AgentPacing: o.Pacing, StreamRate: o.StreamRate, SessionLimit: o.SessionLimit, IdleTimeout: o.IdleTimeout,
		PortCloseEndsChannel: o.PortExit, LaterAgentsRedial: o.LaterRedial, Sh: o.Sh}
}

// emulatorRun serves until ctx ends or SIGINT or SIGTERM arrives.
func emulatorRun(ctx context.Context, o *Options) error {
	opts := o.emuOptions()
	opts.Logger = o.Logger
	if o.FleetFile != "" {
		fleet, err := emu.LoadFleet(o.FleetFile)
		if err != nil {
			return err
		}
		opts.Fleet = fleet
	}
	if o.AccessKeyID != "" {
		opts.Credentials = []emu.Credential{{AccessKeyID: o.AccessKeyID, AccessKeySecret: o.AccessSecret}}
	}
	e, err := emu.Listen(o.Listen, opts)
	if err != nil {
		return err
	}
	defer e.Close()
	c := e.Credential()
	// These are the emulator's own throwaway keys: printing them is the point of this command.
	fmt.Fprintf(o.IO.Out, "export ECSTERM_ENDPOINT=%s\nexport ALIBABA_CLOUD_REGION_ID=%s\n"+
		"export ALIBABA_CLOUD_ACCESS_KEY_ID=%s\nexport ALIBABA_CLOUD_ACCESS_KEY_SECRET=%s\n"+
		"export ALIBABA_CLOUD_ECS_METADATA_DISABLED=true\n",
		e.Endpoint(), e.Region(), c.AccessKeyID, c.AccessKeySecret)
	fmt.Fprintf(o.IO.ErrOut, "ecsterm emulator: serving region %s with %d instances at %s; Ctrl-C stops it\n",
		e.Region(), len(e.Fleet().Instances), e.Endpoint())
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
