package demo

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// shellSessions is the Sessions seam with a shell only: Shell calls shell with the API the
// demo built it on.
type shellSessions struct {
	api   attach.API
	shell func(ctx context.Context, api attach.API, o attach.ShellOptions) error
}

func (s *shellSessions) Shell(ctx context.Context, o attach.ShellOptions) error {
	return s.shell(ctx, s.api, o)
}

func (s *shellSessions) Exec(context.Context, attach.ExecOptions) (int, error) {
	return 0, errors.New("the demo runs no exec exchange")
}

func (s *shellSessions) Ports(context.Context, attach.PortOptions) attach.PortOpener { return nil }

func TestNewCmdDemo(t *testing.T) {
	for _, tt := range []struct {
		name      string
		args      []string
		cfg       *config.Config
		cfgErr    error
		wantQuiet bool
		wantDelay string
		wantErr   string
	}{
		{name: "defaults", cfg: &config.Config{}, wantDelay: "1s"},
		{name: "-q", cfg: &config.Config{Quiet: true}, wantQuiet: true, wantDelay: "1s"},
		{name: "no configuration", cfgErr: errors.New("bad config file"), wantDelay: "1s"},
		{name: "agent delay", args: []string{"--agent-delay", "0"}, cfg: &config.Config{}, wantDelay: "0s"},
		{name: "no arguments", args: []string{"i-abc"}, cfg: &config.Config{}, wantErr: "unknown command"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios,
				Config: func() (*config.Config, error) { return tt.cfg, tt.cfgErr },
				Logger: func() *slog.Logger { return slog.New(slog.DiscardHandler) }}
			var got *Options
			cmd := NewCmdDemo(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Errorf("err = %v (ran: %v), want one containing %q", err, got != nil, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.IO != ios || got.Logger == nil || got.Sessions == nil || got.Quiet != tt.wantQuiet || got.AgentDelay.String() != tt.wantDelay {
				t.Errorf("Options = %+v, want quiet %v and delay %s", *got, tt.wantQuiet, tt.wantDelay)
			}
		})
	}
}

// TestDemoRun runs the emulator in-process: the shell is opened on one of its Linux instances
// that can take a session, through an API client signed with the emulator's own credentials.
func TestDemoRun(t *testing.T) {
	for _, quiet := range []bool{false, true} {
		ios, _, _, errOut := iostreams.Test()
		var shells []attach.ShellOptions
		opts := &Options{IO: ios, Logger: slog.New(slog.DiscardHandler), Quiet: quiet,
			Sessions: func(api attach.API) cmdutil.Sessions {
				return &shellSessions{api: api, shell: func(ctx context.Context, api attach.API, o attach.ShellOptions) error {
					shells = append(shells, o)
					in, err := api.Preflight(ctx, o.InstanceID)
					if err != nil {
						return err
					}
					if in.OSType != "linux" && in.OSType != "Linux" {
						t.Errorf("the demo's instance runs %q", in.OSType)
					}
					return nil
				}}
			}}
		if err := demoRun(context.Background(), opts); err != nil {
			t.Fatalf("quiet=%v: demoRun = %v", quiet, err)
		}
		if len(shells) != 1 || !strings.HasPrefix(shells[0].InstanceID, "i-") {
			t.Fatalf("shells opened: %+v, want one on an instance", shells)
		}
		o := shells[0]
		if o.Stdin != ios.In || o.Stdout != ios.Out || o.Stderr != ios.ErrOut || o.SetRaw == nil {
			t.Errorf("the shell's streams are not the command's: %+v %+v", o.Streams, o.Terminal)
		}
		banner := errOut.String()
		if quiet && banner != "" {
			t.Errorf("-q: stderr = %q, want nothing", banner)
		}
		if !quiet && (!strings.Contains(banner, o.InstanceID) || !strings.Contains(banner, "http://127.0.0.1:")) {
			t.Errorf("stderr = %q, want the banner naming the loopback endpoint and %s", banner, o.InstanceID)
		}
	}
}

// TestDemoRunShellError: the shell's error is the command's.
func TestDemoRunShellError(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	boom := errors.New("the session ended")
	opts := &Options{IO: ios, Logger: slog.New(slog.DiscardHandler), Quiet: true,
		Sessions: func(api attach.API) cmdutil.Sessions {
			return &shellSessions{api: api, shell: func(context.Context, attach.API, attach.ShellOptions) error { return boom }}
		}}
	if err := demoRun(context.Background(), opts); !errors.Is(err, boom) {
		t.Errorf("demoRun = %v, want the shell's error", err)
	}
}

var _ cmdutil.Sessions = (*shellSessions)(nil)
