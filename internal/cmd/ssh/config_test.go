package ssh

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

func TestWriteConfig(t *testing.T) {
	var b bytes.Buffer
	blocks := []block{{patterns: []string{"i-abc", "web-01"}, id: "i-abc"}, {patterns: []string{"i-*"}}}
	if err := writeConfig(&b, "/opt/my tools/ecsterm", "/home/u/.config/ecsterm/known 100%", []string{"--region=cn-hangzhou"}, blocks); err != nil {
		t.Fatal(err)
	}
	want := `Host i-abc web-01
    HostName i-abc
    HostKeyAlias i-abc
    ProxyCommand '/opt/my tools/ecsterm' --region=cn-hangzhou proxy i-abc %p
    UserKnownHostsFile "/home/u/.config/ecsterm/known 100%%"
    StrictHostKeyChecking yes
Host i-*
    ProxyCommand '/opt/my tools/ecsterm' --region=cn-hangzhou proxy %h %p
`
	if got := b.String(); !strings.Contains(got, want) {
		t.Errorf("got\n%s\nwant it to contain\n%s", got, want)
	}
	if err := writeConfig(&b, "/x", "/a\"b", nil, blocks); err == nil {
		t.Error("a known-hosts path with a quote was written")
	}
}

func TestHostNames(t *testing.T) {
	for name, ok := range map[string]bool{"web-01": true, "db.prod_2": true, "*": false, "a b": false,
		"web-*": false, "!web": false, "x\"y": false, "\x1b[31m": false, "": false} {
		if hostRe.MatchString(name) != ok {
			t.Errorf("hostRe(%q) = %v", name, !ok)
		}
	}
}

func TestProxyCommandQuoting(t *testing.T) {
	got := proxyCommand([]string{"/p/eck'sterm", "--profile=a%b", "proxy", "i-1"})
	if want := `'/p/eck'\''sterm' --profile=a%%b proxy i-1`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestParseArgs: argv to Options, through the command.
func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		user    string
		port    int
		sshArgs []string
		bad     bool
	}{
		{args: []string{"i-abc"}, port: 22},
		{args: []string{"admin@i-abc"}, user: "admin", port: 22},
		{args: []string{"-l", "root", "admin@i-abc"}, user: "root", port: 22},
		{args: []string{"-p", "2222", "i-abc", "--", "-L", "8080:localhost:80", "uptime"}, port: 2222, sshArgs: []string{"-L", "8080:localhost:80", "uptime"}},
		{args: []string{"i-abc", "uptime"}, bad: true},
		{args: []string{"-p", "0", "i-abc"}, bad: true},
		{args: []string{"-l", "a b", "i-abc"}, bad: true},
		{args: []string{"-l", "-oProxyCommand=x", "i-abc"}, bad: true},
	} {
		ios, _, _, _ := iostreams.Test()
		var got *Options
		cmd := NewCmdSSH(&cmdutil.Factory{IOStreams: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted", tc.args)
			}
			continue
		}
		if err != nil || got == nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got.User != tc.user || got.Port != tc.port || strings.Join(got.SSHArgs, "|") != strings.Join(tc.sshArgs, "|") || got.Spec.Value != "i-abc" {
			t.Errorf("%q: user %q port %d args %q spec %+v", tc.args, got.User, got.Port, got.SSHArgs, got.Spec)
		}
	}
}

// TestStdioIsTheProcesssFiles: ssh inherits stdin, stdout and stderr themselves, not pipes
// through ecsterm (ErrOut is a writer over stderr), so that it and its ProxyCommand see a
// terminal where there is one.
func TestStdioIsTheProcesssFiles(t *testing.T) {
	in, out, errOut := stdio(iostreams.System())
	if in != os.Stdin || out != os.Stdout || errOut != os.Stderr {
		t.Errorf("ssh's streams: %T %T %T, want the process's files", in, out, errOut)
	}
	ios, _, _, _ := iostreams.Test()
	if _, _, e := stdio(ios); e != ios.ErrOut {
		t.Errorf("test streams: stderr %T", e)
	}
}
