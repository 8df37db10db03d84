//go:build unix

package emulator

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ecs "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"
	"go.uber.org/goleak"
)

type invokeResultSDK = ecs.DescribeInvocationResultsResponseBodyInvocationInvocationResultsInvocationResult

// runReq is a RunCommand request for a shell script on ids, sent as Base64.
func runReq(e *Emulator, script string, ids ...string) *ecs.RunCommandRequest {
	in := make([]*string, len(ids))
	for i, id := range ids {
		in[i] = tea.String(id)
	}
	return &ecs.RunCommandRequest{RegionId: tea.String(e.Region()), InstanceId: in, Type: tea.String("RunShellScript"),
		CommandContent: tea.String(base64.StdEncoding.EncodeToString([]byte(script))), ContentEncoding: tea.String("Base64")}
}

// invoke sends req and returns the InvokeId.
func invoke(t *testing.T, c *ecs.Client, req *ecs.RunCommandRequest) string {
	t.Helper()
	resp, err := c.RunCommand(req)
	if err != nil {
		t.Fatalf("RunCommand: %v", err)
	}
	id := tea.StringValue(resp.Body.InvokeId)
	if !strings.HasPrefix(id, "t-emu") || !strings.HasPrefix(tea.StringValue(resp.Body.CommandId), "c-emu") {
		t.Fatalf("RunCommand answered %v", resp.Body)
	}
	return id
}

var finalStatus = map[string]bool{"Success": true, "Failed": true, "Error": true, "Timeout": true,
	"Cancelled": true, "Terminated": true, "Invalid": true, "Aborted": true}

// results polls DescribeInvocationResults (default encoding, Base64) until every result is final.
func results(t *testing.T, c *ecs.Client, e *Emulator, invokeID string) []*invokeResultSDK {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		resp, err := c.DescribeInvocationResults(&ecs.DescribeInvocationResultsRequest{
			RegionId: tea.String(e.Region()), InvokeId: tea.String(invokeID), MaxResults: tea.Int32(50)})
		if err != nil {
			t.Fatalf("DescribeInvocationResults: %v", err)
		}
		list := resp.Body.Invocation.InvocationResults.InvocationResult
		done := true
		for _, r := range list {
			done = done && finalStatus[tea.StringValue(r.InvocationStatus)]
		}
		if done {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("invocation %s not finished after %v: %v", invokeID, patience, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// agentFleet is n Running Linux instances i-run001... with online agents, plus i-stop001, Stopped.
func agentFleet(t *testing.T, n int) *Fleet {
	t.Helper()
	var b strings.Builder
	b.WriteString("instances:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {id: i-run%03d, agent: {version: 2.2.3.512, online: true, sessionManager: true}}\n", i)
	}
	b.WriteString("  - {id: i-stop001, status: Stopped, agent: {version: 2.2.3.512, online: false}}\n")
	f, err := ParseFleet([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func output(t *testing.T, r *invokeResultSDK) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(tea.StringValue(r.Output))
	if err != nil {
		t.Fatalf("Output %q is not Base64: %v", tea.StringValue(r.Output), err)
	}
	return string(b)
}

func TestRunCommandExitCodesAndOutput(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	tests := []struct {
		script, status, code, out string
		exit                      int64
	}{
		{script: "echo hello", status: "Success", out: "hello\n"},
		{script: "echo out; echo err >&2; exit 7", status: "Failed", code: "ExitCodeNonzero", out: "out\nerr\n", exit: 7},
		{script: `printf 'a\r\n\377\376\300b'`, status: "Success", out: "a\r\n\xff\xfe\xc0b"},
		{script: "kill -TERM $$", status: "Failed", code: "ExitCodeNonzero", exit: 128 + 15},
		{script: `cat; echo "TERM=$(printenv TERM || echo unset) $LANG $USER"; pwd; echo "$HOME"`, status: "Success",
			out: "TERM=unset C.UTF-8 root\n" + filepath.Join(e.opts.StateDir, idDemo) + "\n" + filepath.Join(e.opts.StateDir, idDemo) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			before := time.Now().UTC().Truncate(time.Second)
			list := results(t, c, e, invoke(t, c, runReq(e, tt.script, idDemo)))
			if len(list) != 1 {
				t.Fatalf("got %d results, want 1", len(list))
			}
			r := list[0]
			if got := tea.StringValue(r.InvocationStatus); got != tt.status || tea.Int64Value(r.ExitCode) != tt.exit || tea.StringValue(r.ErrorCode) != tt.code {
				t.Errorf("status %s, exit %d, code %q; want %s, %d, %q", got, tea.Int64Value(r.ExitCode), tea.StringValue(r.ErrorCode), tt.status, tt.exit, tt.code)
			}
			if got := output(t, r); got != tt.out {
				t.Errorf("output %q, want %q", got, tt.out)
			}
			if tea.StringValue(r.InstanceId) != idDemo || tea.StringValue(r.InvokeRecordStatus) != "Finished" || tea.StringValue(r.Username) != "root" {
				t.Errorf("result %v: want instance %s, record Finished, user root", r, idDemo)
			}
			start, err1 := time.Parse(apiTime, tea.StringValue(r.StartTime))
			end, err2 := time.Parse(apiTime, tea.StringValue(r.FinishedTime))
			if err1 != nil || err2 != nil || start.Before(before) || end.Before(start) {
				t.Errorf("StartTime %q, FinishedTime %q: want ISO 8601 UTC times from %v on", tea.StringValue(r.StartTime), tea.StringValue(r.FinishedTime), before)
			}
		})
	}
}

func TestRunCommandOutputKeepsBothEnds(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	var full strings.Builder
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&full, "%d\n", i)
	}
	r := results(t, c, e, invoke(t, c, runReq(e, "seq 1 10000", idDemo)))[0]
	want := full.String()[:outputHalf] + full.String()[full.Len()-outputHalf:]
	if got := output(t, r); got != want {
		t.Errorf("output is %d bytes starting %q and ending %q; want the first and last %d bytes", len(got), got[:min(len(got), 20)], got[max(0, len(got)-20):], outputHalf)
	}
	if d := tea.Int32Value(r.Dropped); int(d) != full.Len()-2*outputHalf {
		t.Errorf("Dropped = %d, want %d", d, full.Len()-2*outputHalf)
	}
	// Exactly 24 KB is kept whole.
	r = results(t, c, e, invoke(t, c, runReq(e, "head -c 24576 /dev/zero", idDemo)))[0]
	if got := output(t, r); len(got) != 24576 || tea.Int32Value(r.Dropped) != 0 {
		t.Errorf("24576 bytes of output came back as %d, Dropped %d", len(got), tea.Int32Value(r.Dropped))
	}
}

func TestRunCommandTimeoutKillsProcessGroup(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	req := runReq(e, "echo start; sleep 30 & echo $! > bg.pid; sleep 30", idDemo)
	req.Timeout = tea.Int64(1)
	start := time.Now()
	r := results(t, c, e, invoke(t, c, req))[0]
	if took := time.Since(start); took > 1*time.Second+patience/2 {
		t.Errorf("a 1 s timeout took %v", took)
	}
	if st := tea.StringValue(r.InvocationStatus); st != "Timeout" || tea.Int64Value(r.ExitCode) != timeoutExitCode || tea.StringValue(r.ErrorCode) != "ExecutionTimeout" {
		t.Errorf("status %s exit %d code %s, want Timeout %d ExecutionTimeout", st, tea.Int64Value(r.ExitCode), tea.StringValue(r.ErrorCode), timeoutExitCode)
	}
	if got := output(t, r); got != "start\n" {
		t.Errorf("output %q, want the output before the timeout", got)
	}
	b, err := os.ReadFile(filepath.Join(e.opts.StateDir, idDemo, "bg.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if st := processState(pid); st != "gone" && st != "Z" {
		t.Errorf("the script's background process (pid %d) survived the timeout in state %s", pid, st)
	}
}

func TestRunCommandInstancesRunInParallel(t *testing.T) {
	e := testEmulator(t, Options{Fleet: agentFleet(t, 3), StateDir: t.TempDir()})
	c := apiClient(t, e)
	// Each script waits, with a 5 s timeout, until all three have started: serial runs would time out.
	script := `touch ../started-$(basename "$PWD"); until [ $(ls ../started-* | wc -l) -ge 3 ]; do sleep 0.02; done; basename "$PWD"`
	req := runReq(e, script, "i-run001", "i-run002", "i-run003", "i-stop001", "i-nosuch")
	req.Timeout = tea.Int64(5)
	list := results(t, c, e, invoke(t, c, req))
	want := []struct{ id, status, code string }{
		{"i-run001", "Success", ""}, {"i-run002", "Success", ""}, {"i-run003", "Success", ""},
		{"i-stop001", "Invalid", "InstanceNotRunning"}, {"i-nosuch", "Invalid", "InstanceNotExists"},
	}
	if len(list) != len(want) {
		t.Fatalf("got %d results, want %d", len(list), len(want))
	}
	for i, w := range want {
		r := list[i]
		if tea.StringValue(r.InstanceId) != w.id || tea.StringValue(r.InvocationStatus) != w.status || tea.StringValue(r.ErrorCode) != w.code {
			t.Errorf("result %d: %s %s %q, want %s %s %q", i, tea.StringValue(r.InstanceId), tea.StringValue(r.InvocationStatus), tea.StringValue(r.ErrorCode), w.id, w.status, w.code)
		}
		if w.status == "Success" && output(t, r) != w.id+"\n" {
			t.Errorf("%s output %q, want its own home directory's name", w.id, output(t, r))
		}
	}
}

func TestRunCommandRefusals(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	ids := []string{idStopped, idNoAgent, idOffline, idWindows, idDemo}
	want := map[string][2]string{
		idStopped: {"Invalid", "InstanceNotRunning"}, idNoAgent: {"Aborted", "ClientNotInstalled"},
		idOffline: {"Aborted", "ClientNotOnline"}, idWindows: {"Invalid", "CommandNotApplicable"}, idDemo: {"Success", ""},
	}
	for _, r := range results(t, c, e, invoke(t, c, runReq(e, "true", ids...))) {
		w := want[tea.StringValue(r.InstanceId)]
		if got := [2]string{tea.StringValue(r.InvocationStatus), tea.StringValue(r.ErrorCode)}; got != w {
			t.Errorf("%s: %v, want %v", tea.StringValue(r.InstanceId), got, w)
		}
		if w[0] != "Success" && (tea.StringValue(r.ErrorInfo) == "" || tea.StringValue(r.FinishedTime) == "") {
			t.Errorf("%s: refusal without ErrorInfo or FinishedTime: %v", tea.StringValue(r.InstanceId), r)
		}
	}
	for _, tt := range []struct{ typ, id, status, code string }{
		{"RunPowerShellScript", idDemo, "Invalid", "CommandNotApplicable"},
		{"RunBatScript", idDemo, "Invalid", "CommandNotApplicable"},
		{"RunPowerShellScript", idWindows, "Failed", "ExecutionException"},
	} {
		req := runReq(e, "Write-Output hi", tt.id)
		req.Type = tea.String(tt.typ)
		r := results(t, c, e, invoke(t, c, req))[0]
		if st, code := tea.StringValue(r.InvocationStatus), tea.StringValue(r.ErrorCode); st != tt.status || code != tt.code {
			t.Errorf("%s on %s: %s %s, want %s %s", tt.typ, tt.id, st, code, tt.status, tt.code)
		}
	}
}

func TestRunCommandAPIErrors(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	b64 := func(n int) string { return strings.Repeat("A", n) }
	tests := []struct {
		name   string
		edit   func(*ecs.RunCommandRequest)
		code   string
		status int
	}{
		{"no instances", func(r *ecs.RunCommandRequest) { r.InstanceId = nil }, "MissingParameter", 400},
		{"101 instances", func(r *ecs.RunCommandRequest) { r.InstanceId = ids(101) }, "InvalidParameter", 400},
		{"no type", func(r *ecs.RunCommandRequest) { r.Type = nil }, "MissingParameter", 400},
		{"bad type", func(r *ecs.RunCommandRequest) { r.Type = tea.String("RunPythonScript") }, "InvalidParameter", 400},
		{"no content", func(r *ecs.RunCommandRequest) { r.CommandContent = nil }, "MissingParameter", 400},
		{"bad base64", func(r *ecs.RunCommandRequest) { r.CommandContent = tea.String("not base64!") }, "InvalidParameter", 400},
		{"base64 over 24 KB", func(r *ecs.RunCommandRequest) { r.CommandContent = tea.String(b64(24580)) }, "InvalidCommandContent.LengthLimitExceeded", 400},
		{"plain text over 24 KB as base64", func(r *ecs.RunCommandRequest) {
			r.ContentEncoding, r.CommandContent = tea.String("PlainText"), tea.String(strings.Repeat("#", 18433))
		}, "InvalidCommandContent.LengthLimitExceeded", 400},
		{"over 18 KB kept", func(r *ecs.RunCommandRequest) {
			r.KeepCommand, r.CommandContent = tea.Bool(true), tea.String(b64(18436))
		}, "InvalidCommandContent.LengthLimitExceeded", 400},
		{"timeout 0", func(r *ecs.RunCommandRequest) { r.Timeout = tea.Int64(0) }, "InvalidParameter", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := runReq(e, "true", idDemo)
			tt.edit(req)
			_, err := c.RunCommand(req)
			if code, status := errorCode(t, err); code != tt.code || status != tt.status {
				t.Errorf("got %s (HTTP %d), want %s (HTTP %d)", code, status, tt.code, tt.status)
			}
		})
	}
	// Exactly 24 KB of Base64 is accepted; so is lower-case "base64".
	req := runReq(e, strings.Repeat("#", 18432), idDemo)
	req.ContentEncoding = tea.String("base64")
	if r := results(t, c, e, invoke(t, c, req))[0]; tea.StringValue(r.InvocationStatus) != "Success" {
		t.Errorf("a 24 KB comment script ended %s", tea.StringValue(r.InvocationStatus))
	}
	_, err := c.DescribeInvocationResults(&ecs.DescribeInvocationResultsRequest{RegionId: tea.String(e.Region()), InvokeId: tea.String("t-nosuch")})
	if code, status := errorCode(t, err); code != "InvalidInvokeId.NotFound" || status != 404 {
		t.Errorf("unknown InvokeId: %s (HTTP %d), want InvalidInvokeId.NotFound (404)", code, status)
	}
	e.FailNext("RunCommand", "InternalError", 1)
	_, err = c.RunCommand(runReq(e, "true", idDemo))
	if code, _ := errorCode(t, err); code != "InternalError" {
		t.Errorf("FailNext(RunCommand) gave %s", code)
	}
}

func TestRunCommandPlainTextAndClientToken(t *testing.T) {
	e := testEmulator(t, Options{})
	c := apiClient(t, e)
	req := &ecs.RunCommandRequest{RegionId: tea.String(e.Region()), InstanceId: []*string{tea.String(idDemo)},
		Type: tea.String("RunShellScript"), CommandContent: tea.String("echo x >> ran; wc -l < ran"),
		ClientToken: tea.String("token-1"), WorkingDir: tea.String(t.TempDir()), Username: tea.String("alice")}
	first := invoke(t, c, req)
	if again := invoke(t, c, req); again != first {
		t.Errorf("a retry with the same ClientToken started %s, want %s again", again, first)
	}
	results(t, c, e, first)
	resp, err := c.DescribeInvocationResults(&ecs.DescribeInvocationResultsRequest{RegionId: tea.String(e.Region()),
		InvokeId: tea.String(first), InstanceId: tea.String(idDemo), ContentEncoding: tea.String("PlainText")})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Body.Invocation.InvocationResults.InvocationResult[0]
	if got := tea.StringValue(r.Output); got != "1\n" || tea.StringValue(r.Username) != "alice" {
		t.Errorf("PlainText output %q user %s; want one run (1) in WorkingDir, user alice", got, tea.StringValue(r.Username))
	}
}

func TestDescribeInvocationResultsPaging(t *testing.T) {
	e := testEmulator(t, Options{Fleet: agentFleet(t, 25)})
	c := apiClient(t, e)
	var all []string
	for i := 25; i >= 1; i-- { // results keep request order, not ID order
		all = append(all, fmt.Sprintf("i-run%03d", i))
	}
	id := invoke(t, c, runReq(e, "true", all...))
	results(t, c, e, id)
	for _, tt := range []struct {
		max   *int32
		pages []int
	}{{nil, []int{10, 10, 5}}, {tea.Int32(50), []int{25}}, {tea.Int32(12), []int{12, 12, 1}}} {
		var got []int
		var seen []string
		req := &ecs.DescribeInvocationResultsRequest{RegionId: tea.String(e.Region()), InvokeId: tea.String(id), MaxResults: tt.max}
		for {
			resp, err := c.DescribeInvocationResults(req)
			if err != nil {
				t.Fatal(err)
			}
			inv := resp.Body.Invocation
			if tea.Int64Value(inv.TotalCount) != 25 {
				t.Errorf("TotalCount %d, want 25", tea.Int64Value(inv.TotalCount))
			}
			got = append(got, len(inv.InvocationResults.InvocationResult))
			for _, r := range inv.InvocationResults.InvocationResult {
				seen = append(seen, tea.StringValue(r.InstanceId))
			}
			if tea.StringValue(inv.NextToken) == "" {
				break
			}
			req.NextToken = inv.NextToken
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.pages) || fmt.Sprint(seen) != fmt.Sprint(all) {
			t.Errorf("MaxResults %v: pages %v of %v; want %v in request order", tea.Int32Value(tt.max), got, seen, tt.pages)
		}
	}
}

// TestCloseKillsRunningInvocations: Close ends a running script's whole process group and waits
// for it, leaving no goroutine behind. It drives the emulator directly, so no HTTP client's
// pooled connections are left to confuse goleak.
func TestCloseKillsRunningInvocations(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	before := goleak.IgnoreCurrent()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	state := t.TempDir()
	e, err := New(Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = e.Close()
		}
	})
	script := `sleep 1000 & echo $! > bg.pid; trap "" HUP TERM; echo $$ > sh.pid; wait`
	params := url.Values{"RegionId": {e.Region()}, "InstanceId.1": {idDemo}, "Type": {"RunShellScript"},
		"CommandContent": {script}, "Timeout": {"600"}}
	resp, err := e.runCommand(&request{action: "RunCommand", params: params, id: "test"})
	if err != nil {
		t.Fatal(err)
	}
	invokeID := resp.(obj)["InvokeId"].(string)
	var pids []int
	deadline := time.Now().Add(patience)
	for len(pids) < 2 {
		pids = pids[:0]
		for _, f := range []string{"sh.pid", "bg.pid"} {
			if b, err := os.ReadFile(filepath.Join(state, idDemo, f)); err == nil && strings.HasSuffix(string(b), "\n") {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				pids = append(pids, pid)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the script never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	if st := processState(pids[0]); st != "gone" {
		t.Errorf("after Close the script's shell (pid %d) is in state %s", pids[0], st)
	}
	for st := processState(pids[1]); st != "gone" && st != "Z"; st = processState(pids[1]) {
		if time.Now().After(deadline) {
			t.Errorf("the script's background process (pid %d) survived Close in state %s", pids[1], st)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	desc, err := e.describeInvocationResults(&request{params: url.Values{"InvokeId": {invokeID}, "ContentEncoding": {"PlainText"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := desc.(obj)["Invocation"].(obj)["InvocationResults"].(obj)["InvocationResult"].([]obj)[0]
	if r["InvocationStatus"] != "Terminated" || r["InvokeRecordStatus"] != "Stopped" {
		t.Errorf("after Close the result is %v, want Terminated/Stopped", r)
	}
	if _, err := e.runCommand(&request{params: params}); err == nil {
		t.Error("RunCommand after Close started a script")
	}
	goleak.VerifyNone(t, before)
}
