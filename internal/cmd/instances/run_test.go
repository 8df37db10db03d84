package instances

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
)

// fakeAPI answers from memory and records what it was asked.
type fakeAPI struct {
	insts     []cloud.InstanceInfo
	agents    map[string]cloud.AgentInfo
	listErr   error
	agentErr  error
	filters   []cloud.InstanceFilter
	agentAsks [][]string
}

func (f *fakeAPI) ListInstances(_ context.Context, flt cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	f.filters = append(f.filters, flt)
	return f.insts, f.listErr
}

func (f *fakeAPI) AgentStatus(_ context.Context, ids []string) (map[string]cloud.AgentInfo, error) {
	f.agentAsks = append(f.agentAsks, slices.Clone(ids))
	return f.agents, f.agentErr
}

func (f *fakeAPI) Region() string { return "cn-fake" }

func fleet() *fakeAPI {
	return &fakeAPI{
		insts: []cloud.InstanceInfo{
			{ID: "i-b", Name: "web-02", Status: "Stopped", OSType: "linux"},
			{ID: "i-a", Name: "web-01", Status: "Running", OSType: "linux", Tags: map[string]string{"env": "prod"}},
			{ID: "i-c", Name: "evil\x1b[2J\u202e", Status: "Running", OSType: "linux"},
		},
		agents: map[string]cloud.AgentInfo{
			"i-a": {Online: true, Version: "2.2.3.512", SessionManager: true},
			"i-b": {Online: false, Version: "2.2.3.512", SessionManager: true},
		},
	}
}

func runFake(t *testing.T, api API, opts Options, tty bool) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(false, tty, tty)
	opts.IO, opts.API = ios, api
	err = instancesRun(context.Background(), &opts)
	return out.String(), errOut.String(), err
}

func TestRunTSVThroughFake(t *testing.T) {
	api := fleet()
	out, errOut, err := runFake(t, api, Options{Filter: cloud.InstanceFilter{Name: "web-*"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `i-c	evil\x1b[2J\u202e	Running	linux	-	none	no (no agent)` + "\n" +
		"i-a\tweb-01\tRunning\tlinux\t-\tonline 2.2.3.512\tyes\n" +
		"i-b\tweb-02\tStopped\tlinux\t-\toffline 2.2.3.512\tno (stopped)\n"
	if out != want || errOut != "" {
		t.Errorf("stdout\n%q\nwant\n%q\nstderr %q", out, want, errOut)
	}
	if len(api.filters) != 1 || api.filters[0].Name != "web-*" {
		t.Errorf("filters asked: %+v", api.filters)
	}
	if len(api.agentAsks) != 1 || !slices.Equal(api.agentAsks[0], []string{"i-b", "i-a", "i-c"}) {
		t.Errorf("agent status asked for %v, want one call for every instance", api.agentAsks)
	}
}

func TestRunJSONThroughFake(t *testing.T) {
	out, _, err := runFake(t, fleet(), Options{JSON: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out, "\x1b\u202e") {
		t.Errorf("JSON holds a raw control character: %q", out)
	}
	var recs []Record
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1].InstanceID != "i-a" || !recs[1].Session.Ready || recs[1].Tags["env"] != "prod" || recs[2].Session.Reason != "stopped" {
		t.Errorf("records %+v", recs)
	}
}

func TestRunEmptyThroughFake(t *testing.T) {
	api := &fakeAPI{}
	out, errOut, err := runFake(t, api, Options{Filter: cloud.InstanceFilter{Status: "Running"}}, true)
	if err != nil || out != "" || errOut != "no instances in cn-fake match the filters\n" {
		t.Errorf("stdout %q stderr %q err %v", out, errOut, err)
	}
	if len(api.agentAsks) != 0 {
		t.Errorf("agent status asked for no instances: %v", api.agentAsks)
	}
	if _, errOut, _ := runFake(t, api, Options{}, false); errOut != "" {
		t.Errorf("piped, nothing found says %q; want nothing", errOut)
	}
}

func TestRunErrorsThroughFake(t *testing.T) {
	boom := errors.New("boom")
	if _, _, err := runFake(t, &fakeAPI{listErr: boom}, Options{}, false); !errors.Is(err, boom) {
		t.Errorf("list error: %v", err)
	}
	api := fleet()
	api.agentErr = boom
	if out, _, err := runFake(t, api, Options{}, false); !errors.Is(err, boom) || out != "" {
		t.Errorf("agent error: %v, stdout %q", err, out)
	}
}

// RunE fills Options from the Factory: the output format from the config, the API from Cloud;
// a config or client that fails stops it before the run function.
func TestRunEFillsOptions(t *testing.T) {
	client := &cloud.Client{}
	ios, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios,
		Config: func() (*config.Config, error) { return &config.Config{Output: "json"}, nil },
		Cloud:  func() (*cloud.Client, error) { return client, nil }}
	var got *Options
	cmd := NewCmdInstances(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.API != API(client) || !got.JSON || got.IO != ios {
		t.Errorf("options %+v", got)
	}
	for name, f := range map[string]*cmdutil.Factory{
		"config": {IOStreams: ios, Config: func() (*config.Config, error) { return nil, errors.New("bad config") }},
		"cloud": {IOStreams: ios, Config: func() (*config.Config, error) { return &config.Config{}, nil },
			Cloud: func() (*cloud.Client, error) { return nil, errors.New("bad cloud") }},
	} {
		ran := false
		cmd := NewCmdInstances(f, func(context.Context, *Options) error { ran = true; return nil })
		cmd.SetArgs(nil)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "bad "+name) || ran {
			t.Errorf("%s fails: err %v, ran %v", name, err, ran)
		}
	}
}
