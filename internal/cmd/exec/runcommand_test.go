package exec

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
)

// --via run-command runs through the API, not sessions: output prefixed by instance, what the
// service cut said on stderr, an invocation that did not finish is 255.
func TestExecRunViaRunCommand(t *testing.T) {
	api := &fakeAPI{runs: []cloud.RunResult{
		{InstanceID: "i-a", Status: "Success", Output: []byte("up 3 days\n")},
		{InstanceID: "i-b", Status: "Failed", ExitCode: 3, Output: []byte("partial"), Dropped: 100},
		{InstanceID: "i-c", Status: "Timeout", ErrorCode: "InstanceTimeout", ErrorInfo: "\x1b[2Jslow"},
	}}
	s := &fakeSessions{exec: perInstance(nil, nil)}
	opts, ios, out, errOut := newOpts(t, api, s, "i-a", "i-b", "i-c")
	ios.SetTTY(false, false, true)
	opts.Via, opts.User = "run-command", "admin"
	if got := exitCode(t, execRun(context.Background(), opts)); got != 255 {
		t.Errorf("exit status %d, want 255", got)
	}
	if len(s.calls) != 0 || !slices.Equal(api.ran, []string{"i-a", "i-b", "i-c"}) || api.script != "uptime" || api.user != "admin" {
		t.Errorf("sessions %d, RunCommand on %v script %q user %q", len(s.calls), api.ran, api.script, api.user)
	}
	if got := out.String(); got != "[i-a] up 3 days\n[i-b] partial\n" {
		t.Errorf("stdout %q", got)
	}
	e := errOut.String()
	if !strings.Contains(e, "3/3 instances done") || !strings.Contains(e, "i-b: the service cut 100 bytes") ||
		!strings.Contains(e, `i-c: invocation Timeout: InstanceTimeout \x1b[2Jslow`) {
		t.Errorf("stderr %q", e)
	}

	// Without a failure, the highest status; -o json records the invocation's status.
	api.runs = api.runs[:2]
	opts, _, out, errOut = newOpts(t, api, s, "i-a", "i-b")
	opts.Via, opts.JSON = "run-command", true
	if got := exitCode(t, execRun(context.Background(), opts)); got != 3 {
		t.Errorf("exit status %d, want 3", got)
	}
	recs := decode(t, out.String())
	if len(recs) != 2 || recs[1].Status != "Failed" || recs[1].Dropped != 100 || *recs[1].ExitStatus != 3 || errOut.Len() != 0 {
		t.Errorf("records %+v, stderr %q", recs, errOut)
	}

	api.runErr = errors.New("InvalidCmdContent")
	opts, _, _, _ = newOpts(t, api, s, "i-a")
	opts.Via = "run-command"
	if err := execRun(context.Background(), opts); !errors.Is(err, api.runErr) {
		t.Errorf("error %v", err)
	}
}
