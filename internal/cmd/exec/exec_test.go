package exec

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// TestNewCmdExec: what RunE makes of arguments and flags, and the usage errors it stops at
// before anything runs.
func TestNewCmdExec(t *testing.T) {
	tests := []struct {
		args    []string
		targets []string // the specs' raw text
		command string
		wantErr string
	}{
		{args: []string{"i-a", "--", "ls", "-l"}, targets: []string{"i-a"}, command: "ls -l"},
		{args: []string{"i-a,i-b", "uptime"}, targets: []string{"i-a", "i-b"}, command: "uptime"},
		{args: []string{"--target", "i-a", "--target", "web-*", "df", "-h"}, targets: []string{"i-a", "web-*"}, command: "df -h"},
		{args: []string{"i-a", "-t", "x"}, targets: []string{"i-a"}, command: "-t x"}, // after the target: the command's
		{args: []string{"i-a"}, wantErr: "no command given"},
		{args: []string{"i-a", "--"}, wantErr: "no command given"},
		{args: []string{",", "x"}, wantErr: "no instance given"},
		{args: []string{"-t", "-T", "i-a", "x"}, wantErr: "contradict"},
		{args: []string{"--via", "ssh", "i-a", "x"}, wantErr: "--via"},
		{args: []string{"-t", "i-a,i-b", "x"}, wantErr: "-t needs exactly one"},
		{args: []string{"-t", "--via", "run-command", "i-a", "x"}, wantErr: "-t needs exactly one"},
		{args: []string{"--parallel", "0", "i-a", "x"}, wantErr: "--parallel"},
		{args: []string{"-e", "ab", "i-a", "x"}, wantErr: "-e"},
		{args: []string{"root@i-a,admin@i-b", "x"}, wantErr: "user given twice"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios,
				Config:   func() (*config.Config, error) { return &config.Config{}, nil },
				Cloud:    func() (*cloud.Client, error) { return &cloud.Client{}, nil },
				Sessions: func() (cmdutil.Sessions, error) { return &fakeSessions{}, nil },
			}
			var got *Options
			cmd := NewCmdExec(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Errorf("error %v (%T), ran %v; want a usage error with %q", err, err, got != nil, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var raw []string
			for _, s := range got.Specs {
				raw = append(raw, s.Raw)
			}
			if !slices.Equal(raw, tt.targets) || got.Command != tt.command {
				t.Errorf("targets %q command %q", raw, got.Command)
			}
		})
	}
}

// RunE fills Options from the configuration and the Factory, and runs nothing when the client
// cannot be built.
func TestExecRunEFillsOptions(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	client := &cloud.Client{}
	s := &fakeSessions{}
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios,
		Config: func() (*config.Config, error) {
			return &config.Config{Output: "json", Quiet: true, RecordDir: "~/casts"}, nil
		},
		Cloud:    func() (*cloud.Client, error) { return client, nil },
		Sessions: func() (cmdutil.Sessions, error) { return s, nil },
	}
	var got *Options
	cmd := NewCmdExec(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"admin@i-a,web-*", "--", "ls", "-l"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.API != API(client) || got.Sessions != cmdutil.Sessions(s) || got.IO != ios || !got.JSON || !got.Quiet ||
		got.RecordDir != "/home/u/casts" || got.User != "admin" || got.Command != "ls -l" || len(got.Specs) != 2 {
		t.Errorf("options %+v", got)
	}

	for name, f := range map[string]*cmdutil.Factory{
		"cloud": {IOStreams: ios, Config: f.Config, Sessions: f.Sessions,
			Cloud: func() (*cloud.Client, error) { return nil, errors.New("no credentials") }},
		"config": {IOStreams: ios, Cloud: f.Cloud, Sessions: f.Sessions,
			Config: func() (*config.Config, error) { return nil, errors.New("bad config") }},
	} {
		ran := false
		cmd := NewCmdExec(f, func(context.Context, *Options) error { ran = true; return nil })
		cmd.SetArgs([]string{"i-a", "true"})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		if err := cmd.Execute(); err == nil || ran {
			t.Errorf("bad %s: error %v, ran %v", name, err, ran)
		}
	}
}
