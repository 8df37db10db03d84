package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
)

// fakeAPI answers from memory and records what it was asked.
type fakeAPI struct {
	insts    []cloud.InstanceInfo
	sessions []cloud.TerminalSession
	err      error
	listed   []cloud.TerminalSessionFilter
	ended    []string
	endErr   map[string]error
}

func (f *fakeAPI) ListInstances(_ context.Context, flt cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	var out []cloud.InstanceInfo
	for _, in := range f.insts {
		if (flt.Name == "" || target.Match(flt.Name, in.Name)) && (len(flt.IDs) == 0 || slices.Contains(flt.IDs, in.ID)) {
			out = append(out, in)
		}
	}
	return out, nil
}

func (f *fakeAPI) ListTerminalSessions(_ context.Context, flt cloud.TerminalSessionFilter) ([]cloud.TerminalSession, error) {
	f.listed = append(f.listed, flt)
	if f.err != nil {
		return nil, f.err
	}
	var out []cloud.TerminalSession
	for _, s := range f.sessions {
		if flt.InstanceID == "" || slices.ContainsFunc(s.Connections, func(c cloud.TerminalConnection) bool { return c.InstanceID == flt.InstanceID }) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakeAPI) Region() string { return "cn-fake" }

func (f *fakeAPI) EndTerminalSession(_ context.Context, id string) error {
	f.ended = append(f.ended, id)
	return f.endErr[id]
}

func session(id, inst, status, created string) cloud.TerminalSession {
	return cloud.TerminalSession{ID: id, Username: "root", CreationTime: created,
		Connections: []cloud.TerminalConnection{{InstanceID: inst, Status: status}}}
}

func fakeFleet(n int) *fakeAPI {
	api := &fakeAPI{}
	for i := range n {
		id := fmt.Sprintf("i-f%02d", i)
		api.insts = append(api.insts, cloud.InstanceInfo{ID: id, Name: fmt.Sprintf("web-%02d", i)})
		api.sessions = append(api.sessions, session(fmt.Sprintf("s-%02d", i), id, "Connected", fmt.Sprintf("2026-01-01T00:%02d:00Z", i)))
	}
	return api
}

func runFake(t *testing.T, api API, opts Options, tty bool) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetTTY(false, tty, tty)
	opts.IO, opts.API = ios, api
	err = sessionsRun(context.Background(), &opts)
	return out.String(), errOut.String(), err
}

func TestRunThroughFake(t *testing.T) {
	api := fakeFleet(3)
	api.sessions[1].Connections[0].Status = "Terminated"
	api.sessions[1].Connections[0].ClosedReason = "bye\x1b[2J"
	api.sessions[2].PortNumber, api.sessions[2].TargetServer = 22, "10.0.0.9"
	out, errOut, err := runFake(t, api, Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "s-02\ti-f02\troot\t-\t2026-01-01T00:02:00Z\tConnected\tport 10.0.0.9:22\n" +
		`s-01	i-f01	root	-	2026-01-01T00:01:00Z	Terminated (bye\x1b[2J)	shell` + "\n" +
		"s-00\ti-f00\troot\t-\t2026-01-01T00:00:00Z\tConnected\tshell\n"
	if out != want || errOut != "" {
		t.Errorf("stdout\n%q\nwant\n%q\nstderr %q", out, want, errOut)
	}
	if len(api.listed) != 1 || api.listed[0] != (cloud.TerminalSessionFilter{}) {
		t.Errorf("listings %+v, want one of the region", api.listed)
	}

	out, _, err = runFake(t, api, Options{JSON: true, States: []string{"Terminated"}}, false)
	var recs []Record
	if err != nil || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 1 || recs[0].SessionID != "s-01" {
		t.Errorf("--state Terminated: %s, %v", out, err)
	}
}

// A few targets get a listing each; more than perInstance get one listing of the region, kept
// to theirs.
func TestRunTargetsThroughFake(t *testing.T) {
	api := fakeFleet(8)
	one, _ := target.Parse("web-03")
	out, _, err := runFake(t, api, Options{JSON: true, Targets: []target.Spec{one}}, false)
	var recs []Record
	if err != nil || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 1 || recs[0].SessionID != "s-03" {
		t.Fatalf("one target: %s, %v", out, err)
	}
	if len(api.listed) != 1 || api.listed[0].InstanceID != "i-f03" {
		t.Errorf("listings %+v, want one for i-f03", api.listed)
	}

	api.listed = nil
	many, _ := target.Parse("web-0*")
	api.sessions = append(api.sessions, session("s-other", "i-elsewhere", "Connected", "2026-01-02T00:00:00Z"))
	out, _, err = runFake(t, api, Options{JSON: true, Targets: []target.Spec{many}}, false)
	recs = nil
	if err != nil || json.Unmarshal([]byte(out), &recs) != nil || len(recs) != 8 {
		t.Fatalf("many targets: %s, %v", out, err)
	}
	if len(api.listed) != 1 || api.listed[0] != (cloud.TerminalSessionFilter{}) {
		t.Errorf("listings %+v, want one of the region", api.listed)
	}
}

func TestRunEmptyAndErrorThroughFake(t *testing.T) {
	api := fakeFleet(0)
	out, errOut, err := runFake(t, api, Options{States: []string{"Connected"}}, true)
	if err != nil || out != "" || errOut != "no sessions in cn-fake match\n" {
		t.Errorf("stdout %q stderr %q err %v", out, errOut, err)
	}
	api.err = errors.New("boom")
	if _, _, err := runFake(t, api, Options{}, false); !errors.Is(err, api.err) {
		t.Errorf("err = %v", err)
	}
	none, _ := target.Parse("nothing")
	if _, _, err := runFake(t, api, Options{Targets: []target.Spec{none}}, false); err == nil || !strings.Contains(err.Error(), "nothing") {
		t.Errorf("unknown target: %v", err)
	}
}

// sessions end tries every ID, says which it ended, and returns the failures together.
func TestEndRunThroughFake(t *testing.T) {
	api := &fakeAPI{endErr: map[string]error{"s-bad\x1b": errors.New("not found")}}
	ios, _, out, errOut := iostreams.Test()
	err := endRun(context.Background(), &EndOptions{IO: ios, API: api, IDs: []string{"s-1", "s-bad\x1b", "s-2"}})
	if !slices.Equal(api.ended, []string{"s-1", "s-bad\x1b", "s-2"}) {
		t.Errorf("ended %q", api.ended)
	}
	if err == nil || err.Error() != `s-bad\x1b: not found` {
		t.Errorf("err = %q", err)
	}
	if out.String() != "" || errOut.String() != "ended s-1\nended s-2\n" {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
}

// RunE of both commands fills Options from the Factory, and stops before the run function when
// the client cannot be built.
func TestRunEFillsOptions(t *testing.T) {
	client := &cloud.Client{}
	ios, _, _, _ := iostreams.Test()
	ok := func() (*cloud.Client, error) { return client, nil }
	bad := func() (*cloud.Client, error) { return nil, errors.New("bad cloud") }
	cfg := func() (*config.Config, error) { return &config.Config{}, nil }

	var got *Options
	cmd := NewCmdSessions(&cmdutil.Factory{IOStreams: ios, Config: cfg, Cloud: ok}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || got.API != API(client) || got.IO != ios {
		t.Errorf("sessions: err %v, options %+v", err, got)
	}
	var gotEnd *EndOptions
	end := newCmdEnd(&cmdutil.Factory{IOStreams: ios, Cloud: ok}, func(_ context.Context, o *EndOptions) error { gotEnd = o; return nil })
	end.SetArgs([]string{"s-1", "s-2"})
	if err := end.Execute(); err != nil || gotEnd.API != EndAPI(client) || !slices.Equal(gotEnd.IDs, []string{"s-1", "s-2"}) {
		t.Errorf("end: err %v, options %+v", err, gotEnd)
	}

	ran := false
	cmd = NewCmdSessions(&cmdutil.Factory{IOStreams: ios, Config: cfg, Cloud: bad}, func(context.Context, *Options) error { ran = true; return nil })
	cmd.SetArgs(nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err == nil || ran {
		t.Errorf("sessions with a bad client: err %v, ran %v", err, ran)
	}
	end = newCmdEnd(&cmdutil.Factory{IOStreams: ios, Cloud: bad}, func(context.Context, *EndOptions) error { ran = true; return nil })
	end.SetArgs([]string{"s-1"})
	end.SilenceUsage, end.SilenceErrors = true, true
	if err := end.Execute(); err == nil || ran {
		t.Errorf("end with a bad client: err %v, ran %v", err, ran)
	}
}
