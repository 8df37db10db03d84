package forward

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

var (
	errNoCloud    = errors.New("no cloud in this test")
	errNoSessions = errors.New("no sessions in this test")
)

func TestNewCmdForward(t *testing.T) {
	local := func(bind string, port int, host string, hport int) forward.LocalSpec {
		return forward.LocalSpec{Bind: bind, Port: port, Host: host, HostPort: hport}
	}
	tests := []struct {
		name     string
		args     []string
		output   string
		want     Options // InstanceID, Locals, Dynamics, JSON
		wantErr  string
		notUsage bool // the error is cobra's own argument error, not a FlagError
	}{
		{name: "short -L", args: []string{"i-abc", "-L", "8080:80"},
			want: Options{InstanceID: "i-abc", Locals: []forward.LocalSpec{local("127.0.0.1", 8080, "", 80)}}},
		{name: "repeated -L and -D", args: []string{"i-abc", "-L", "0:80", "-L", "127.0.0.1:5432:10.0.0.7:5432", "-D", "1080"},
			want: Options{InstanceID: "i-abc", Locals: []forward.LocalSpec{local("127.0.0.1", 0, "", 80), local("127.0.0.1", 5432, "10.0.0.7", 5432)},
				Dynamics: []forward.DynamicSpec{{Bind: "127.0.0.1", Port: 1080}}}},
		{name: "flags first, long names", args: []string{"--local", "[::1]:8443:[fd00::7]:443", "--dynamic", "*:1080", "i-abc"},
			want: Options{InstanceID: "i-abc", Locals: []forward.LocalSpec{local("::1", 8443, "fd00::7", 443)}, Dynamics: []forward.DynamicSpec{{Port: 1080}}}},
		{name: "json", args: []string{"i-abc", "-D", "0"}, output: "json",
			want: Options{InstanceID: "i-abc", Dynamics: []forward.DynamicSpec{{Bind: "127.0.0.1"}}, JSON: true}},
		{name: "user ignored", args: []string{"root@i-abc", "-L", "1:2"},
			want: Options{InstanceID: "i-abc", Locals: []forward.LocalSpec{local("127.0.0.1", 1, "", 2)}}},
		{name: "nothing to forward", args: []string{"i-abc"}, wantErr: "give -L or -D"},
		{name: "bad -L", args: []string{"i-abc", "-L", "8080:0"}, wantErr: `-L "8080:0"`},
		{name: "bad -L port", args: []string{"i-abc", "-L", "http:80"}, wantErr: "not a port"},
		{name: "bad -D", args: []string{"i-abc", "-D", "a:b:c"}, wantErr: `-D "a:b:c"`},
		{name: "by name", args: []string{"web-01", "-L", "1:2"},
			want: Options{Locals: []forward.LocalSpec{local("127.0.0.1", 1, "", 2)}}}, // resolved when run
		{name: "no instance", args: []string{"-L", "1:2"}, wantErr: "arg(s)", notUsage: true},
		{name: "empty instance", args: []string{"", "-L", "1:2"}, wantErr: "no instance"},
		{name: "empty after user", args: []string{"root@", "-L", "1:2"}, wantErr: "no instance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, stdout, stderr := iostreams.Test()
			output := tt.output
			if output == "" {
				output = "text"
			}
			f := &cmdutil.Factory{IOStreams: ios, Config: func() (*config.Config, error) { return &config.Config{Output: output}, nil },
				Logger:   func() *slog.Logger { return slog.New(slog.DiscardHandler) },
				Cloud:    func() (*cloud.Client, error) { return nil, errNoCloud },
				Sessions: func() (cmdutil.Sessions, error) { return nil, errNoSessions }}
			var got *Options
			cmd := NewCmdForward(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetIn(&bytes.Buffer{})
			cmd.SetOut(stdout)
			cmd.SetErr(stderr)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if !tt.notUsage && !errors.As(err, &fe) {
					t.Errorf("err = %T %v, want a FlagError (exit 2)", err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.IO != ios || got.Logger == nil {
				t.Errorf("RunE left IO or Logger unset: %+v", *got)
			}
			if _, err := got.API(); !errors.Is(err, errNoCloud) {
				t.Errorf("Options.API() = %v, want the factory's Cloud", err)
			}
			if _, err := got.Sessions(); !errors.Is(err, errNoSessions) {
				t.Errorf("Options.Sessions() = %v, want the factory's Sessions", err)
			}
			got.IO, got.Spec, got.Logger, got.API, got.Sessions = nil, target.Spec{}, nil, nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}
