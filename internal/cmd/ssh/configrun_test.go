package ssh

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
)

// listAPI lists fixed instances and counts the calls.
type listAPI struct {
	insts []cloud.InstanceInfo
	err   error
	calls int
}

func (l *listAPI) ListInstances(context.Context, cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	l.calls++
	return l.insts, l.err
}

func configOpts(t *testing.T, api API, specs ...string) (*ConfigOptions, *strings.Builder) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	ios, _, _, _ := iostreams.Test()
	var out strings.Builder
	ios.Out = &out
	opts := &ConfigOptions{IO: ios, API: api, Globals: []string{"--profile=prod"}}
	for _, s := range specs {
		spec, err := target.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		opts.Specs = append(opts.Specs, spec)
	}
	return opts, &out
}

// Named instances get a block each under their ID and their name, the name looked up for an
// instance given by ID; a name that cannot stand in a Host line is left out.
func TestConfigRunBlocks(t *testing.T) {
	api := &listAPI{insts: []cloud.InstanceInfo{{ID: "i-1", Name: "web-1"}, {ID: "i-2", Name: "web-2 \x1b[2J"}, {ID: "i-3", Name: "db"}}}
	opts, out := configOpts(t, api, "web-*", "i-3")
	if err := configRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"Host i-1 web-1\n    HostName i-1\n    HostKeyAlias i-1\n",
		"Host i-2\n    HostName i-2\n",
		"Host i-3 db\n",
		" --profile=prod proxy i-3 %p\n",
		"    UserKnownHostsFile /cfg/ecsterm/known_hosts\n    StrictHostKeyChecking yes\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "\x1b") || strings.Count(got, "\nHost ") != 3 {
		t.Errorf("output\n%q", got)
	}
}

// Without instances there is one i-* block and no call to the service; a listing that fails or
// an ID that cannot go into ssh's config is an error, and nothing is printed.
func TestConfigRunAllAndErrors(t *testing.T) {
	opts, out := configOpts(t, nil)
	if err := configRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "Host i-*\n    ProxyCommand ") || !strings.Contains(got, " proxy %h %p\n") || strings.Contains(got, "HostName") {
		t.Errorf("output\n%s", got)
	}

	boom := errors.New("Forbidden.RAM")
	opts, out = configOpts(t, &listAPI{err: boom}, "web")
	if err := configRun(context.Background(), opts); !errors.Is(err, boom) || out.Len() != 0 {
		t.Errorf("error %v, output %q", err, out)
	}
	opts, out = configOpts(t, &listAPI{insts: []cloud.InstanceInfo{{ID: "i-1\nHost *\n", Name: "web"}}}, "web")
	err := configRun(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "will not put in ssh's config") || strings.Contains(err.Error(), "\n") || out.Len() != 0 {
		t.Errorf("error %q, output %q", err, out)
	}
}

// RunE asks for the client only when instances are named.
func TestNewCmdSSHConfigClient(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	client := &cloud.Client{}
	calls := 0
	f := &cmdutil.Factory{IOStreams: ios, Cloud: func() (*cloud.Client, error) { calls++; return client, nil }}
	var got *ConfigOptions
	cmd := NewCmdSSHConfig(f, func(_ context.Context, o *ConfigOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || calls != 0 || got.API != nil || len(got.Specs) != 0 {
		t.Errorf("no instances: error %v, %d calls, options %+v", err, calls, got)
	}
	cmd = NewCmdSSHConfig(f, func(_ context.Context, o *ConfigOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"web", "i-1"})
	if err := cmd.Execute(); err != nil || calls != 1 || got.API != API(client) || len(got.Specs) != 2 || got.IO != ios {
		t.Errorf("two instances: error %v, %d calls, options %+v", err, calls, got)
	}
	f.Cloud = func() (*cloud.Client, error) { return nil, errors.New("no credentials") }
	ran := false
	cmd = NewCmdSSHConfig(f, func(context.Context, *ConfigOptions) error { ran = true; return nil })
	cmd.SetArgs([]string{"web"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err == nil || ran {
		t.Errorf("bad client: error %v, ran %v", err, ran)
	}
}

// ssh's RunE hands the run function the API and the Sessions without calling them: a machine
// without OpenSSH is told so before credentials are looked for.
func TestNewCmdSSHLazy(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	calls := 0
	f := &cmdutil.Factory{IOStreams: ios,
		Cloud:    func() (*cloud.Client, error) { calls++; return nil, errors.New("no credentials") },
		Sessions: func() (cmdutil.Sessions, error) { calls++; return nil, errors.New("no credentials") }}
	var got *Options
	cmd := NewCmdSSH(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"web"})
	if err := cmd.Execute(); err != nil || calls != 0 || got.API == nil || got.Sessions == nil {
		t.Fatalf("error %v, %d calls, options %+v", err, calls, got)
	}
	if _, err := got.API(); err == nil || calls != 1 {
		t.Errorf("API: %v", err)
	}
	if _, err := got.Sessions(); err == nil || calls != 2 {
		t.Errorf("Sessions: %v", err)
	}
}
