package proxy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

var (
	errNoCloud    = errors.New("no cloud in this test")
	errNoSessions = errors.New("no sessions in this test")
)

// testFactory is a Factory whose settings say -q and whose Cloud and Sessions fail.
func testFactory(ios *iostreams.IOStreams) *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: ios,
		Config:    func() (*config.Config, error) { return &config.Config{Quiet: true}, nil },
		Logger:    func() *slog.Logger { return slog.New(slog.DiscardHandler) },
		Cloud:     func() (*cloud.Client, error) { return nil, errNoCloud },
		Sessions:  func() (cmdutil.Sessions, error) { return nil, errNoSessions },
	}
}

func TestNewCmdProxy(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options // InstanceID, Host, Port
		wantErr string
		usage   bool
	}{
		{name: "default port", args: []string{"i-abc"}, want: Options{InstanceID: "i-abc", Port: 22}},
		{name: "ssh's %h %p", args: []string{"i-abc", "2222"}, want: Options{InstanceID: "i-abc", Port: 2222}},
		{name: "host behind", args: []string{"i-abc", "10.0.0.7:22"}, want: Options{InstanceID: "i-abc", Host: "10.0.0.7", Port: 22}},
		{name: "IPv6 host", args: []string{"i-abc", "[fd00::7]:22"}, want: Options{InstanceID: "i-abc", Host: "fd00::7", Port: 22}},
		{name: "user stripped", args: []string{"root@i-abc"}, want: Options{InstanceID: "i-abc", Port: 22}},
		{name: "port 0", args: []string{"i-abc", "0"}, wantErr: "not a port", usage: true},
		{name: "port too big", args: []string{"i-abc", "65536"}, wantErr: "not a port", usage: true},
		{name: "not a port", args: []string{"i-abc", "ssh"}, wantErr: "not a port", usage: true},
		{name: "signed", args: []string{"i-abc", "+22"}, wantErr: "not a port", usage: true},
		{name: "bad host:port", args: []string{"i-abc", "fd00::7:22"}, wantErr: "[host:]port", usage: true},
		{name: "empty instance", args: []string{"user@"}, wantErr: "no instance", usage: true},
		{name: "by name", args: []string{"web-01", "22"}, want: Options{Port: 22}},
		{name: "too many", args: []string{"i-abc", "22", "x"}, wantErr: "arg(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, stdout, stderr := iostreams.Test()
			var got *Options
			cmd := NewCmdProxy(testFactory(ios), func(_ context.Context, o *Options) error { got = o; return nil })
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
				if tt.usage && !errors.As(err, &fe) {
					t.Errorf("err = %T, want a FlagError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.IO != ios || got.Logger == nil || !got.Quiet {
				t.Errorf("RunE left IO, Logger or the config's -q unset: %+v", *got)
			}
			if _, err := got.API(); !errors.Is(err, errNoCloud) {
				t.Errorf("Options.API() = %v, want the factory's Cloud", err)
			}
			if _, err := got.Sessions(); !errors.Is(err, errNoSessions) {
				t.Errorf("Options.Sessions() = %v, want the factory's Sessions", err)
			}
			if got.InstanceID != tt.want.InstanceID || got.Host != tt.want.Host || got.Port != tt.want.Port {
				t.Errorf("options = %+v, want %+v", *got, tt.want)
			}
		})
	}
}
