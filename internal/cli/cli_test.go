package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// isolate keeps Run on the machine: an empty HOME and config directory, no credentials or
// region from the environment, no instance metadata, and an endpoint nothing listens on.
func isolate(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		for _, prefix := range []string{"ALIBABA_CLOUD_", "ALIBABACLOUD_", "ALICLOUD_", "ECSTERM_"} {
			if strings.HasPrefix(name, prefix) {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
		}
	}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "DEBUG"} {
		t.Setenv(k, "")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	t.Setenv("ECSTERM_ENDPOINT", "http://127.0.0.1:1")
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
		errLines int    // lines on stderr, -1 to skip the check
		emptyOut bool
		emptyErr bool
		env      map[string]string
	}{
		{name: "version", args: []string{"version"}, want: 0, wantOut: "ecsterm", emptyErr: true},
		{name: "version with an argument", args: []string{"version", "extra"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "no command prints help", args: nil, want: 0, wantOut: "connect", emptyErr: true},
		{name: "help", args: []string{"--help"}, want: 0, wantOut: "Usage:", emptyErr: true},
		{name: "unknown flag", args: []string{"--bogus"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "unknown shorthand", args: []string{"-Z", "version"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "unknown command", args: []string{"bogus"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "flag missing its value", args: []string{"version", "--region"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "connect without target", args: []string{"connect"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "connect with two targets", args: []string{"connect", "i-a", "i-b"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "connect unknown flag", args: []string{"connect", "--bogus", "i-a"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "connect user twice", args: []string{"connect", "-l", "root", "admin@i-a"}, want: 2, wantErr: "Run 'ecsterm --help'", errLines: 2, emptyOut: true},
		{name: "connect command too long", args: []string{"connect", "--command", strings.Repeat("x", 513), "i-a"}, want: 2, wantErr: "512", errLines: 2, emptyOut: true},
		{name: "bad output format", args: []string{"--output", "yaml", "connect", "i-x"}, want: 2, wantErr: "ecsterm: output format \"yaml\"", errLines: 2, emptyOut: true},
		{name: "bad output format shorthand", args: []string{"-o", "yaml", "connect", "i-x"}, want: 2, wantErr: "text or json", errLines: 2, emptyOut: true},
		// A bad setting is a usage error wherever it comes from.
		{name: "bad output format from env", args: []string{"connect", "i-x"}, env: map[string]string{"ECSTERM_OUTPUT": "yaml"}, want: 2, wantErr: "text or json (env ECSTERM_OUTPUT)", errLines: 2, emptyOut: true},
		{name: "bad connection type", args: []string{"--connection-type", "vpc", "connect", "i-x"}, want: 2, wantErr: `connection type "vpc" is not internet or intranet (flag)`, errLines: 2, emptyOut: true},
		{name: "bad connection type from env", args: []string{"exec", "i-x", "--", "true"}, env: map[string]string{"ECSTERM_CONNECTION_TYPE": "public"}, want: 2, wantErr: "(env ECSTERM_CONNECTION_TYPE)", errLines: 2, emptyOut: true},
		{name: "encryption asked for", args: []string{"connect", "--encrypt", "i-x"}, want: 2, wantErr: "session encryption (EncryptionOptions) is not available", errLines: 2, emptyOut: true},
		{name: "password name without a login", args: []string{"forward", "--password-name", "pw", "i-x", "-L", "8080:80"}, want: 2, wantErr: "--password-name goes with a user (-l USER)", errLines: 2, emptyOut: true},
		{name: "empty password name", args: []string{"connect", "--password-name=", "-l", "Administrator", "i-x"}, want: 2, wantErr: "--password-name is empty", errLines: 2, emptyOut: true},
		{name: "version loads no config", args: []string{"version"}, env: map[string]string{"ECSTERM_OUTPUT": "yaml"}, want: 0, wantOut: "ecsterm", emptyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ios, _, stdout, stderr := iostreams.Test()
			got := Run(context.Background(), ios, tt.args)
			if got != tt.want {
				t.Errorf("Run(%q) = %d, want %d\nstdout: %s\nstderr: %s", tt.args, got, tt.want, stdout, stderr)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", stdout, tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.wantErr)
			}
			if tt.emptyOut && stdout.Len() != 0 {
				t.Errorf("stdout = %q; errors belong on stderr", stdout)
			}
			if tt.emptyErr && stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			if tt.errLines > 0 {
				if n := strings.Count(stderr.String(), "\n"); n != tt.errLines || !strings.HasSuffix(stderr.String(), "\n") {
					t.Errorf("stderr has %d lines, want %d: %q", n, tt.errLines, stderr)
				}
			}
		})
	}
}

func TestRunConfigFileError(t *testing.T) {
	isolate(t)
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("region: [unclosed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ios, _, stdout, stderr := iostreams.Test()
	got := Run(context.Background(), ios, []string{"--config", path, "connect", "i-x"})
	if got != cmdutil.ExitFailure {
		t.Errorf("Run = %d, want %d", got, cmdutil.ExitFailure)
	}
	if !strings.HasPrefix(stderr.String(), "ecsterm: ") || !strings.Contains(stderr.String(), path) ||
		strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("stderr = %q, want one line naming %s", stderr, path)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q", stdout)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		sig     syscall.Signal // the signal that cancelled the command's context, if any
		want    int
		wantErr string // exact stderr
	}{
		{name: "nil", err: nil, want: 0},
		{name: "remote status", err: &cmdutil.ExitError{Code: 7}, want: 7},
		{name: "remote status wrapped", err: fmt.Errorf("exec: %w", &cmdutil.ExitError{Code: 7}), want: 7},
		{name: "remote status zero", err: &cmdutil.ExitError{Code: 0}, want: 0},
		{name: "SIGINT", err: &term.SignalError{Signal: syscall.SIGINT}, want: 130},
		{name: "SIGINT wrapped", err: fmt.Errorf("connect: %w", &term.SignalError{Signal: syscall.SIGINT}), want: 130},
		{name: "SIGINT around cancel", err: &term.SignalError{Signal: syscall.SIGINT, Err: context.Canceled}, want: 130},
		{name: "SIGTERM", err: &term.SignalError{Signal: syscall.SIGTERM}, want: 143},
		{name: "canceled", err: context.Canceled, want: 130},
		{name: "canceled wrapped", err: fmt.Errorf("connect: %w", context.Canceled), want: 130},
		{name: "silent", err: cmdutil.ErrSilent, want: 255},
		{name: "silent wrapped", err: fmt.Errorf("x: %w", cmdutil.ErrSilent), want: 255},
		{name: "usage", err: cmdutil.FlagErrorf("bad\nflag"), want: 2, wantErr: "ecsterm: bad flag\nRun 'ecsterm --help' for usage.\n"},
		{name: "usage wrapped", err: fmt.Errorf("w: %w", cmdutil.FlagErrorf("bad")), want: 2, wantErr: "ecsterm: w: bad\nRun 'ecsterm --help' for usage.\n"},
		{name: "cobra arg count", err: errors.New(`accepts 1 arg(s), received 0`), want: 2, wantErr: "ecsterm: accepts 1 arg(s), received 0\nRun 'ecsterm --help' for usage.\n"},
		{name: "cobra unknown command", err: errors.New(`unknown command "x" for "ecsterm"`), want: 2, wantErr: "ecsterm: unknown command \"x\" for \"ecsterm\"\nRun 'ecsterm --help' for usage.\n"},
		{name: "generic", err: errors.New("instance not found"), want: 255, wantErr: "ecsterm: instance not found\n"},
		{name: "generic multi-line", err: errors.New("api error:\n  line two\r\n\tline three\n"), want: 255, wantErr: "ecsterm: api error: line two line three\n"},
		{name: "generic wrapped deadline", err: fmt.Errorf("connect: %w", context.DeadlineExceeded), want: 255, wantErr: "ecsterm: connect: context deadline exceeded\n"},
		// After a signal: 128+n whatever the command returned, without a word about the
		// cancellation itself; nil is still 0 (forward and proxy stop that way).
		{name: "signalled, nil", sig: syscall.SIGINT, err: nil, want: 130},
		{name: "signalled, fan-out 255", sig: syscall.SIGTERM, err: &cmdutil.ExitError{Code: 255}, want: 143},
		{name: "signalled, canceled", sig: syscall.SIGHUP, err: fmt.Errorf("i-x: %w", context.Canceled), want: 129},
		{name: "signalled, silent", sig: syscall.SIGINT, err: cmdutil.ErrSilent, want: 130},
		{name: "signalled, other error", sig: syscall.SIGINT, err: errors.New("removing partial file: busy"), want: 130, wantErr: "ecsterm: removing partial file: busy\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			root := NewCmdRoot(ios, nil)
			var stderr bytes.Buffer
			var sig *term.SignalError
			if tt.sig != 0 {
				sig = &term.SignalError{Signal: tt.sig}
			}
			if got := exitCode(&stderr, root, tt.err, sig); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
			if stderr.String() != tt.wantErr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

func TestExitCodeRawTerminal(t *testing.T) {
	// An error reported while the terminal is still raw must not staircase.
	ios, _, _, stderr := iostreams.Test()
	ios.SetRaw(true)
	exitCode(ios.ErrOut, nil, cmdutil.FlagErrorf("bad"), nil)
	if want := "ecsterm: bad\r\nRun 'ecsterm --help' for usage.\r\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
}

func TestStripSDKDebug(t *testing.T) {
	tests := []struct {
		in          string
		want        string
		wantRemoved bool
	}{
		{in: "", want: "", wantRemoved: false},
		{in: "foo", want: "foo", wantRemoved: false},
		{in: "foo,bar", want: "foo,bar", wantRemoved: false},
		{in: "dara", want: "", wantRemoved: true},
		{in: "tea", want: "", wantRemoved: true},
		{in: "credential", want: "", wantRemoved: true},
		{in: "sdk", want: "", wantRemoved: true},
		{in: "dara,foo", want: "foo", wantRemoved: true},
		{in: "foo,dara", want: "foo", wantRemoved: true},
		{in: "foo,dara,bar", want: "foo,bar", wantRemoved: true},
		{in: "tea,credential,sdk", want: "", wantRemoved: true},
		{in: "dara, tea", want: "", wantRemoved: true},
		{in: "darab", want: "darab", wantRemoved: false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, removed := stripSDKDebug(tt.in)
			if got != tt.want || removed != tt.wantRemoved {
				t.Errorf("stripSDKDebug(%q) = %q, %v; want %q, %v", tt.in, got, removed, tt.want, tt.wantRemoved)
			}
		})
	}
}
