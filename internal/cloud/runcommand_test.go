package cloud

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// runFleet is n Running Linux instances i-run001... with online agents, then i-stop001 (Stopped)
// and i-off001 (agent offline).
func runFleet(t *testing.T, n int) *emulator.Fleet {
	t.Helper()
	var b strings.Builder
	b.WriteString("instances:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {id: i-run%03d, agent: {version: 2.2.3.512, online: true, sessionManager: true}}\n", i)
	}
	b.WriteString("  - {id: i-stop001, status: Stopped, agent: {version: 2.2.3.512, online: false}}\n")
	b.WriteString("  - {id: i-off001, agent: {version: 2.2.3.512, online: false}}\n")
	f, err := emulator.ParseFleet([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func runIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-run%03d", i+1)
	}
	return ids
}

func TestRunCommandExitCodesAndOutput(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	tests := []struct {
		script, status, out string
		exit                int
	}{
		{"echo ok", "Success", "ok\n", 0},
		{"echo out; echo err >&2; exit 1", "Failed", "out\nerr\n", 1},
		{"printf 'no newline'; exit 7", "Failed", "no newline", 7},
		{`printf 'crlf\r\nlatin1 \351\n\377\376\375'`, "Success", "crlf\r\nlatin1 \xe9\n\xff\xfe\xfd", 0},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			res, err := c.RunCommand(ctx(t), []string{idReady}, tt.script, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := res[0]
			if r.InstanceID != idReady || r.Status != tt.status || r.ExitCode != tt.exit || string(r.Output) != tt.out || r.Dropped != 0 {
				t.Errorf("got %s %s exit %d output %q dropped %d; want %s exit %d output %q", r.InstanceID, r.Status, r.ExitCode, r.Output, r.Dropped, tt.status, tt.exit, tt.out)
			}
			if r.Start.Before(before.Truncate(time.Second)) || r.Finish.Before(r.Start) {
				t.Errorf("Start %v Finish %v, want times from %v on", r.Start, r.Finish, before)
			}
		})
	}
}

func TestRunCommandTruncatedOutput(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	var full strings.Builder
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&full, "%d\n", i)
	}
	res, err := c.RunCommand(ctx(t), []string{idReady}, "seq 1 10000", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, want := res[0], full.String()
	if len(r.Output) != 24576 || r.Dropped != len(want)-24576 {
		t.Fatalf("output %d bytes, Dropped %d; want 24576 and %d", len(r.Output), r.Dropped, len(want)-24576)
	}
	if got := string(r.Output); !strings.HasPrefix(got, want[:100]) || !strings.HasSuffix(got, want[len(want)-100:]) {
		t.Errorf("output starts %q and ends %q; want the command's own first and last bytes", got[:20], got[len(got)-20:])
	}
}

func TestRunCommandTimeout(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	start := time.Now()
	res, err := c.RunCommand(ctx(t), []string{idReady}, "echo before; sleep 5; echo after", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("RunCommand took %v with a 1 s timeout", took)
	}
	if r := res[0]; r.Status != "Timeout" || string(r.Output) != "before\n" || r.ErrorCode == "" {
		t.Errorf("got %s output %q code %q; want Timeout with the output so far and an error code", r.Status, r.Output, r.ErrorCode)
	}
}

func TestRunCommandFleetInParallel(t *testing.T) {
	e := newEmulator(t, emulator.Options{Fleet: runFleet(t, 3), StateDir: t.TempDir()})
	c := newClient(t, e, nil)
	// Each script waits until all three have started: run one after another, they would time out.
	script := `touch ../started-$(basename "$PWD"); until [ $(ls ../started-* | wc -l) -ge 3 ]; do sleep 0.02; done; basename "$PWD"`
	ids := []string{"i-run003", "i-stop001", "i-run001", "i-off001", "i-run002", "i-run001"}
	var progress []string
	res, err := c.RunCommand(ctx(t), ids, script, 5*time.Second, func(done, total int) {
		progress = append(progress, fmt.Sprintf("%d/%d", done, total))
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(ids) {
		t.Fatalf("%d results for %d IDs", len(res), len(ids))
	}
	for i, r := range res {
		ok := strings.HasPrefix(ids[i], "i-run")
		switch {
		case r.InstanceID != ids[i]:
			t.Errorf("result %d is for %s, want %s", i, r.InstanceID, ids[i])
		case ok && (r.Status != "Success" || string(r.Output) != ids[i]+"\n"):
			t.Errorf("%s: %s %q, want Success with its own name", ids[i], r.Status, r.Output)
		case !ok && (r.Status == "Success" || r.ErrorCode == "" || r.ErrorInfo == ""):
			t.Errorf("%s: %s %q %q, want a refusal with a code and a reason", ids[i], r.Status, r.ErrorCode, r.ErrorInfo)
		}
	}
	if got := strings.Join(progress, " "); got != "1/5 2/5 3/5 4/5 5/5" {
		t.Errorf("progress calls %s, want 1/5 ... 5/5", got)
	}
}

func TestRunCommandSplitsAtHundredInstances(t *testing.T) {
	e := newEmulator(t, emulator.Options{Fleet: runFleet(t, 150)})
	c := newClient(t, e, nil)
	ids := runIDs(150)
	var last int
	res, err := c.RunCommand(ctx(t), ids, `basename "$PWD"`, 0, func(done, total int) {
		if done != last+1 || total != 150 {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
	})
	if err != nil {
		t.Fatal(err) // the emulator refuses a call with more than 100 IDs
	}
	if n := e.Calls("RunCommand"); n != 2 {
		t.Errorf("RunCommand called %d times for 150 instances, want 2", n)
	}
	if len(res) != 150 || last != 150 {
		t.Fatalf("%d results, progress reached %d; want 150", len(res), last)
	}
	for i, r := range res {
		if r.InstanceID != ids[i] || r.Status != "Success" || string(r.Output) != ids[i]+"\n" {
			t.Errorf("result %d: %s %s %q, want %s Success", i, r.InstanceID, r.Status, r.Output, ids[i])
		}
	}
}

func TestRunCommandRefusesLongScriptLocally(t *testing.T) {
	e := newEmulator(t, emulator.Options{})
	c := newClient(t, e, nil)
	_, err := c.RunCommand(ctx(t), []string{idReady}, strings.Repeat("#", 18433), 0, nil)
	if err == nil || !strings.Contains(err.Error(), "24576") {
		t.Errorf("an 18433-byte script gave %v, want a local error naming the limit", err)
	}
	if n := e.Calls("RunCommand") + e.Calls("DescribeInvocationResults"); n != 0 {
		t.Errorf("%d API calls for a script refused locally", n)
	}
	// The largest script that fits does run.
	res, err := c.RunCommand(ctx(t), []string{idReady}, strings.Repeat("#", 18432), 0, nil)
	if err != nil || res[0].Status != "Success" {
		t.Errorf("an 18432-byte script: %v %v, want Success", res, err)
	}
}

func TestRunCommandRetriesTransientErrors(t *testing.T) {
	state := t.TempDir()
	e := newEmulator(t, emulator.Options{StateDir: state})
	c := newClient(t, e, nil)
	e.FailNext("RunCommand", "ServiceUnavailable", 1)
	e.FailNext("DescribeInvocationResults", "Throttling.User", 1)
	res, err := c.RunCommand(ctx(t), []string{idReady}, "echo x >> ran; wc -l < ran", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res[0].Output) != "1\n" || e.Calls("RunCommand") != 2 {
		t.Errorf("output %q after %d RunCommand calls; want one run after one retry", res[0].Output, e.Calls("RunCommand"))
	}
}

// TestRunCommandCancelAndClose: ending ctx returns at once with the invocation's ID; closing the
// emulator then kills the script, and nothing of either is left running.
func TestRunCommandCancelAndClose(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	before := goleak.IgnoreCurrent()
	isolate(t)
	state := t.TempDir()
	e, err := emulator.New(emulator.Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeEmu := func() { once.Do(func() { _ = e.Close() }) }
	t.Cleanup(closeEmu)
	c := newClient(t, e, nil)

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type answer struct {
		res []RunResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := c.RunCommand(runCtx, []string{idReady}, "echo $$ > sh.pid; exec sleep 1000", time.Minute, nil)
		done <- answer{res, err}
	}()
	pidFile := filepath.Join(state, idReady, "sh.pid")
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the script never started")
		}
	}
	cancel()
	select {
	case a := <-done:
		if !errors.Is(a.err, context.Canceled) || !strings.Contains(a.err.Error(), "t-emu") {
			t.Errorf("after cancel: %v, want context.Canceled naming the invocation", a.err)
		}
		if len(a.res) != 1 || terminal[a.res[0].Status] {
			t.Errorf("after cancel the results are %+v, want one, not final", a.res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunCommand did not return when ctx ended")
	}
	closeEmu()
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("the script (pid %d) survived Close", pid)
	}
	goleak.VerifyNone(t, before)
}
