// Package emulator implements `ecsterm emulator`: the built-in emulator as a standalone server,
// for trying scripts against it.
package emulator

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	emu "github.com/ecsterm/ecsterm/internal/emulator"
)

// Options are the server's settings.
type Options struct {
	Listen       string
	FleetFile    string
	AgentDelay   time.Duration
	AccessKeyID  string
	AccessSecret string
	PerInstance  int
	PerRegion    int
}

// NewCmdEmulator builds the command.
func NewCmdEmulator(f *cmdutil.Factory) *cobra.Command {
	o := &Options{}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the built-in Alibaba Cloud emulator on loopback",
		Long: `Run the emulator that 'ecsterm demo' and the tests use, as a server: the ECS OpenAPI (with
real signature checks), the session gateway and an agent per emulated instance, all on
127.0.0.1. It prints the environment to point ecsterm (or your own scripts) at it, then
serves until interrupted.`,
		Example: `  ecsterm emulator
  ecsterm emulator --listen 127.0.0.1:8900 --fleet fleet.yaml --agent-delay 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd.Context(), f, o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:0", "loopback address to listen on (port 0 picks one)")
	fl.StringVar(&o.FleetFile, "fleet", "", "fleet YAML describing the instances (default: the built-in fleet)")
	fl.DurationVar(&o.AgentDelay, "agent-delay", time.Second, "agent start-up delay before a session's PTY exists (the real agent's is about 1s)")
	fl.StringVar(&o.AccessKeyID, "access-key-id", "", "AccessKey ID to accept (default: random)")
	fl.StringVar(&o.AccessSecret, "access-key-secret", "", "AccessKey secret to accept (default: random)")
	fl.IntVar(&o.PerInstance, "sessions-per-instance", 10, "connected sessions allowed per instance")
	fl.IntVar(&o.PerRegion, "sessions-per-region", 1000, "sessions allowed per region")
	return cmd
}

func run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	opts := emu.Options{AgentStartDelay: o.AgentDelay, SessionsPerInstance: o.PerInstance, SessionsPerRegion: o.PerRegion, Logger: f.Logger()}
	if o.FleetFile != "" {
		fleet, err := emu.LoadFleet(o.FleetFile)
		if err != nil {
			return err
		}
		opts.Fleet = fleet
	}
	if (o.AccessKeyID == "") != (o.AccessSecret == "") {
		return cmdutil.FlagErrorf("give both --access-key-id and --access-key-secret, or neither")
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
	fmt.Fprintf(f.IOStreams.Out, "export ECSTERM_ENDPOINT=%s\nexport ALIBABA_CLOUD_REGION_ID=%s\n"+
		"export ALIBABA_CLOUD_ACCESS_KEY_ID=%s\nexport ALIBABA_CLOUD_ACCESS_KEY_SECRET=%s\n"+
		"export ALIBABA_CLOUD_ECS_METADATA_DISABLED=true\n",
		e.Endpoint(), e.Region(), c.AccessKeyID, c.AccessKeySecret)
	fmt.Fprintf(f.IOStreams.ErrOut, "ecsterm emulator: serving region %s with %d instances at %s; Ctrl-C stops it\n",
		e.Region(), len(e.Fleet().Instances), e.Endpoint())
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
