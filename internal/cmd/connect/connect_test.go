package connect

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

func TestNewCmdConnect(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options // Target, InstanceID, User, CommandLine
		wantErr string  // substring; empty for success
		usage   bool    // the error must be a *cmdutil.FlagError
	}{
		{name: "instance", args: []string{"i-abc"}, want: Options{Target: "i-abc", InstanceID: "i-abc"}},
		{name: "user@instance", args: []string{"admin@i-abc"}, want: Options{Target: "admin@i-abc", InstanceID: "i-abc", User: "admin"}},
		{name: "-l", args: []string{"-l", "root", "i-abc"}, want: Options{Target: "i-abc", InstanceID: "i-abc", User: "root"}},
		{name: "--user", args: []string{"--user", "root", "i-abc"}, want: Options{Target: "i-abc", InstanceID: "i-abc", User: "root"}},
		{name: "-l after target", args: []string{"i-abc", "-l", "root"}, want: Options{Target: "i-abc", InstanceID: "i-abc", User: "root"}},
		{name: "-l agrees with target", args: []string{"-l", "root", "root@i-abc"}, want: Options{Target: "root@i-abc", InstanceID: "i-abc", User: "root"}},
		{name: "-l conflicts with target", args: []string{"-l", "root", "admin@i-abc"}, wantErr: "", usage: true},
		{name: "empty user", args: []string{"@i-abc"}, wantErr: "@i-abc", usage: true},
		{name: "empty user with -l", args: []string{"-l", "root", "@i-abc"}, wantErr: "@i-abc", usage: true},
		{name: "no instance", args: []string{"admin@"}, wantErr: "admin@", usage: true},
		{name: "empty target", args: []string{""}, wantErr: "no instance", usage: true},
		{name: "no args", args: nil, wantErr: "arg(s)"},
		{name: "two args", args: []string{"i-abc", "i-def"}, wantErr: "arg(s)"},
		{name: "command", args: []string{"i-abc", "--command", "top -d 5"}, want: Options{Target: "i-abc", InstanceID: "i-abc", CommandLine: "top -d 5"}},
		{name: "command of 512 ASCII", args: []string{"i-abc", "--command", strings.Repeat("a", 512)},
			want: Options{Target: "i-abc", InstanceID: "i-abc", CommandLine: strings.Repeat("a", 512)}},
		{name: "command of 512 multi-byte runes", args: []string{"i-abc", "--command", strings.Repeat("é", 512)},
			want: Options{Target: "i-abc", InstanceID: "i-abc", CommandLine: strings.Repeat("é", 512)}},
		{name: "command of 512 four-byte runes", args: []string{"i-abc", "--command", strings.Repeat("😀", 512)},
			want: Options{Target: "i-abc", InstanceID: "i-abc", CommandLine: strings.Repeat("😀", 512)}},
		{name: "command of 513 runes", args: []string{"i-abc", "--command", strings.Repeat("é", 513)}, wantErr: "513", usage: true},
		{name: "command of 513 ASCII", args: []string{"i-abc", "--command", strings.Repeat("a", 513)}, wantErr: "512", usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, stdout, stderr := iostreams.Test()
			f := testFactory(ios)
			var got *Options
			cmd := NewCmdConnect(f, func(_ context.Context, o *Options) error {
				got = o
				return nil
			})
			cmd.SetArgs(tt.args)
			cmd.SetIn(&bytes.Buffer{})
			cmd.SetOut(stdout)
			cmd.SetErr(stderr)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			_, err := cmd.ExecuteC()

			if tt.wantErr != "" || tt.usage {
				if err == nil {
					t.Fatalf("no error; options %+v", got)
				}
				if got != nil {
					t.Errorf("runF ran after an error")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				var fe *cmdutil.FlagError
				if tt.usage && !errors.As(err, &fe) {
					t.Errorf("error %q is %T, want a *cmdutil.FlagError (exit 2)", err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got == nil {
				t.Fatal("runF not called")
			}
			if got.Target != tt.want.Target || got.InstanceID != tt.want.InstanceID ||
				got.User != tt.want.User || got.CommandLine != tt.want.CommandLine {
				t.Errorf("Options = {Target:%q InstanceID:%q User:%q CommandLine:%q}, want {Target:%q InstanceID:%q User:%q CommandLine:%q}",
					got.Target, got.InstanceID, got.User, got.CommandLine,
					tt.want.Target, tt.want.InstanceID, tt.want.User, tt.want.CommandLine)
			}
			if got.IO != ios {
				t.Error("Options.IO is not the factory's streams")
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q", stdout)
			}
		})
	}
}

func TestNewCmdConnectUserConflictNamesBoth(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	cmd := NewCmdConnect(testFactory(ios), func(context.Context, *Options) error {
		t.Error("runF ran")
		return nil
	})
	cmd.SetArgs([]string{"-l", "root", "admin@i-abc"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *cmdutil.FlagError", err, err)
	}
	for _, name := range []string{"root", "admin"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %q", err, name)
		}
	}
}

func TestNewCmdConnectPassesContext(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	var got context.Context
	cmd := NewCmdConnect(testFactory(ios), func(c context.Context, _ *Options) error {
		got = c
		return nil
	})
	cmd.SetArgs([]string{"i-abc"})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Value(key{}) != "v" {
		t.Error("runF did not get the command's context")
	}
}

func TestNewCmdConnectRunFError(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	boom := errors.New("boom")
	cmd := NewCmdConnect(testFactory(ios), func(context.Context, *Options) error { return boom })
	cmd.SetArgs([]string{"i-abc"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); !errors.Is(err, boom) {
		t.Errorf("Execute = %v, want runF's error unchanged", err)
	}
}

func TestNewCmdConnectFillsOptions(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := testFactory(ios)
	f.Config = func() (*config.Config, error) { return &config.Config{RecordDir: "/var/casts", Quiet: true}, nil }
	var got *Options
	cmd := NewCmdConnect(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"i-abc"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.RecordDir != "/var/casts" || !got.Quiet || got.Logger == nil {
		t.Errorf("RecordDir %q, Quiet %v, Logger %v; want the settings' and a logger", got.RecordDir, got.Quiet, got.Logger)
	}
	if _, err := got.API(); !errors.Is(err, errNoCloud) {
		t.Errorf("Options.API() = %v, want the factory's Cloud", err)
	}
	if _, err := got.Sessions(); !errors.Is(err, errNoSessions) {
		t.Errorf("Options.Sessions() = %v, want the factory's Sessions", err)
	}
}
