package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
)

// fakeAPI lists a fixed set of instances and answers RunCommand with fixed results.
type fakeAPI struct {
	insts   []cloud.InstanceInfo
	listErr error
	lists   int

	runs   []cloud.RunResult
	runErr error
	ran    []string // the instance IDs RunCommand was asked to run on
	script string
	user   string
}

func (f *fakeAPI) ListInstances(context.Context, cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	f.lists++
	return f.insts, f.listErr
}

func (f *fakeAPI) RunCommandAs(_ context.Context, user string, ids []string, script string, _ time.Duration, progress func(done, total int)) ([]cloud.RunResult, error) {
	f.ran, f.script, f.user = ids, script, user
	progress(len(ids), len(ids))
	return f.runs, f.runErr
}

// fakeSessions runs exec exchanges with exec and records what it was asked.
type fakeSessions struct {
	exec  func(ctx context.Context, o attach.ExecOptions) (int, error)
	mu    sync.Mutex
	calls []attach.ExecOptions
}

func (f *fakeSessions) Exec(ctx context.Context, o attach.ExecOptions) (int, error) {
	f.mu.Lock()
	f.calls = append(f.calls, o)
	f.mu.Unlock()
	return f.exec(ctx, o)
}

func (f *fakeSessions) Shell(context.Context, attach.ShellOptions) error {
	return errors.New("exec opens no shell")
}

func (f *fakeSessions) Ports(context.Context, attach.PortOptions) attach.PortOpener { return nil }

// instances returns the IDs the exchanges ran on, sorted.
func (f *fakeSessions) instances() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, c := range f.calls {
		ids = append(ids, c.InstanceID)
	}
	slices.Sort(ids)
	return ids
}

// newOpts returns Options as RunE leaves them for targets (no usage error among them), with
// test streams.
func newOpts(t *testing.T, api *fakeAPI, s *fakeSessions, targets ...string) (*Options, *iostreams.IOStreams, *strings.Builder, *strings.Builder) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	var out, errOut strings.Builder
	ios.Out, ios.ErrOut = &lockedBuilder{b: &out}, &lockedBuilder{b: &errOut}
	opts := &Options{IO: ios, API: api, Sessions: s, Command: "uptime", Via: "session", Parallel: 16, EscapeChar: "~"}
	for _, tg := range targets {
		spec, err := target.Parse(tg)
		if err != nil {
			t.Fatal(err)
		}
		opts.Specs = append(opts.Specs, spec)
	}
	return opts, ios, &out, &errOut
}

// lockedBuilder is a strings.Builder the fan-out's goroutines may write at once.
type lockedBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v (%T), want an exit status", err, err)
	}
	return ee.Code
}

// One instance: its stdout and stderr pass through unchanged, stdin reaches it, and its exit
// status is ecsterm's.
func TestExecRunOne(t *testing.T) {
	for _, status := range []int{0, 3} {
		s := &fakeSessions{exec: func(_ context.Context, o attach.ExecOptions) (int, error) {
			in, err := io.ReadAll(o.Stdin)
			if err != nil {
				return 0, err
			}
			fmt.Fprintf(o.Stdout, "got %q\x1b[1m", in) // session output is not escaped
			fmt.Fprint(o.Stderr, "warning\n")
			return status, nil
		}}
		opts, ios, out, errOut := newOpts(t, &fakeAPI{}, s, "i-abc")
		ios.In = strings.NewReader("input")
		opts.User = "admin"
		if got := exitCode(t, execRun(context.Background(), opts)); got != status {
			t.Errorf("exit status %d, want %d", got, status)
		}
		if out.String() != "got \"input\"\x1b[1m" || errOut.String() != "warning\n" {
			t.Errorf("stdout %q stderr %q", out, errOut)
		}
		c := s.calls[0]
		if len(s.calls) != 1 || c.InstanceID != "i-abc" || c.Username != "admin" || c.Command != "uptime" || c.TTY || c.Recording != nil {
			t.Errorf("exec options %+v", c)
		}
	}
}

// -n sends no stdin: the exchange gets none, and the command sees end of file.
func TestExecRunNoStdin(t *testing.T) {
	s := &fakeSessions{exec: func(_ context.Context, o attach.ExecOptions) (int, error) {
		if o.Stdin != nil {
			return 0, errors.New("stdin given")
		}
		return 0, nil
	}}
	opts, ios, _, _ := newOpts(t, &fakeAPI{}, s, "i-abc")
	ios.In = strings.NewReader("not for the command")
	opts.NoStdin = true
	if err := execRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
}

// The command gets a terminal with -t, or when stdin and stdout are terminals, and never with
// -T; a terminal session is recorded in record_dir when one is set.
func TestExecRunTTYDecision(t *testing.T) {
	tests := []struct {
		name            string
		in, out, errTTY bool
		tty, noTTY      bool
		want            bool
	}{
		{name: "pipes", want: false},
		{name: "terminals", in: true, out: true, want: true},
		{name: "stdin only", in: true, want: false},
		{name: "stdout only", out: true, errTTY: true, want: false},
		{name: "-t on pipes", tty: true, want: true},
		{name: "-T on terminals", in: true, out: true, noTTY: true, want: false},
	}
	for _, tt := range tests {
		for _, dir := range []string{"", "record"} {
			t.Run(tt.name+" "+dir, func(t *testing.T) {
				s := &fakeSessions{exec: func(context.Context, attach.ExecOptions) (int, error) { return 0, nil }}
				opts, ios, _, _ := newOpts(t, &fakeAPI{}, s, "i-abc")
				ios.SetTTY(tt.in, tt.out, tt.errTTY)
				opts.TTY, opts.NoTTY = tt.tty, tt.noTTY
				if dir != "" {
					opts.RecordDir = t.TempDir()
				}
				if err := execRun(context.Background(), opts); err != nil {
					t.Fatal(err)
				}
				c := s.calls[0]
				if c.TTY != tt.want {
					t.Errorf("TTY %v, want %v", c.TTY, tt.want)
				}
				if recorded := c.Recording != nil; recorded != (tt.want && dir != "") {
					t.Errorf("recorded %v with TTY %v and record_dir %q", recorded, c.TTY, dir)
				}
				if c.Escape != '~' || c.NoEscape {
					t.Errorf("escape %q, off %v", c.Escape, c.NoEscape)
				}
			})
		}
	}
}

// A record_dir that is not a directory stops a terminal session before it starts.
func TestExecRunBadRecordDir(t *testing.T) {
	s := &fakeSessions{exec: func(context.Context, attach.ExecOptions) (int, error) { return 0, nil }}
	opts, _, _, _ := newOpts(t, &fakeAPI{}, s, "i-abc")
	opts.TTY, opts.RecordDir = true, filepath.Join(t.TempDir(), "missing")
	if err := execRun(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "record_dir") {
		t.Errorf("error %v", err)
	}
	if len(s.calls) != 0 {
		t.Error("the session ran")
	}
}

// An exec that cannot run the command is an error, not an exit status.
func TestExecRunOneFails(t *testing.T) {
	boom := errors.New("i-abc: the instance is stopped")
	s := &fakeSessions{exec: func(context.Context, attach.ExecOptions) (int, error) { return 0, boom }}
	opts, _, _, _ := newOpts(t, &fakeAPI{}, s, "i-abc")
	if err := execRun(context.Background(), opts); !errors.Is(err, boom) {
		t.Errorf("error %v", err)
	}
}

// perInstance answers each instance from a table: output lines, the last without a newline, a
// line on stderr, and a status or an error.
func perInstance(status map[string]int, fail map[string]error) func(context.Context, attach.ExecOptions) (int, error) {
	return func(_ context.Context, o attach.ExecOptions) (int, error) {
		if o.Stdin != nil || o.TTY {
			return 0, errors.New("a fanned-out exec got stdin or a terminal")
		}
		if err := fail[o.InstanceID]; err != nil {
			return 0, err
		}
		fmt.Fprintf(o.Stdout, "one %s\ntwo", o.InstanceID)
		fmt.Fprintf(o.Stderr, "err %s\n", o.InstanceID)
		return status[o.InstanceID], nil
	}
}

func lines(s string) []string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(l)
	return l
}

// Several instances: every one runs, each line says where it came from, an instance that
// fails is reported and makes the status 255, and the others still run.
func TestExecRunFanOut(t *testing.T) {
	s := &fakeSessions{exec: perInstance(map[string]int{"i-a": 0, "i-c": 2}, map[string]error{"i-b": errors.New("i-b: no\x1b]0;agent")})}
	opts, ios, out, errOut := newOpts(t, &fakeAPI{}, s, "i-a", "i-b", "i-c")
	ios.In = strings.NewReader("never read")
	if got := exitCode(t, execRun(context.Background(), opts)); got != 255 {
		t.Errorf("exit status %d, want 255", got)
	}
	if got := s.instances(); !slices.Equal(got, []string{"i-a", "i-b", "i-c"}) {
		t.Errorf("ran on %v", got)
	}
	want := []string{"[i-a] one i-a", "[i-a] two", "[i-c] one i-c", "[i-c] two"}
	if got := lines(out.String()); !slices.Equal(got, want) {
		t.Errorf("stdout lines %q, want %q", got, want)
	}
	want = []string{"[i-a] err i-a", "[i-c] err i-c", `ecsterm: i-b: no\x1b]0;agent`}
	if got := lines(errOut.String()); !slices.Equal(got, want) {
		t.Errorf("stderr lines %q, want %q", got, want)
	}
	// Fanned-out instances get no stdin.
	for _, c := range s.calls {
		if c.Stdin != nil {
			t.Errorf("%s got stdin", c.InstanceID)
		}
	}
}

// With several instances and no failure, the status is the highest; --no-prefix leaves lines
// as they are.
func TestExecRunFanOutNoPrefix(t *testing.T) {
	s := &fakeSessions{exec: perInstance(map[string]int{"i-a": 1, "i-b": 4, "i-c": 0}, nil)}
	opts, _, out, errOut := newOpts(t, &fakeAPI{}, s, "i-a", "i-b", "i-c")
	opts.NoPrefix = true
	if got := exitCode(t, execRun(context.Background(), opts)); got != 4 {
		t.Errorf("exit status %d, want 4", got)
	}
	// Unprefixed, an instance's last line without a newline may run into another's.
	if got := out.String(); strings.Contains(got, "[") || strings.Count(got, "one ") != 3 || strings.Count(got, "two") != 3 {
		t.Errorf("stdout %q", got)
	}
	if got := lines(errOut.String()); !slices.Equal(got, []string{"err i-a", "err i-b", "err i-c"}) {
		t.Errorf("stderr lines %q", got)
	}
}

// -o json prints one record per instance in the order given, stdout and stderr inside it and
// nothing on stderr, even for an instance that failed; with one instance too.
func TestExecRunJSON(t *testing.T) {
	s := &fakeSessions{exec: perInstance(map[string]int{"i-a": 0, "i-c": 5}, map[string]error{"i-b": errors.New("i-b: gone")})}
	opts, _, out, errOut := newOpts(t, &fakeAPI{}, s, "i-c", "i-b", "i-a")
	opts.JSON = true
	if got := exitCode(t, execRun(context.Background(), opts)); got != 255 {
		t.Errorf("exit status %d, want 255", got)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr %q", errOut)
	}
	recs := decode(t, out.String())
	if len(recs) != 3 || recs[0].InstanceID != "i-c" || recs[1].InstanceID != "i-b" || recs[2].InstanceID != "i-a" {
		t.Fatalf("records %+v", recs)
	}
	if r := recs[0]; r.ExitStatus == nil || *r.ExitStatus != 5 || r.Stdout != "one i-c\ntwo" || r.Stderr != "err i-c\n" || r.Error != nil {
		t.Errorf("i-c: %+v", r)
	}
	if r := recs[1]; r.ExitStatus != nil || r.Error == nil || *r.Error != "i-b: gone" {
		t.Errorf("i-b: %+v", r)
	}

	s = &fakeSessions{exec: perInstance(map[string]int{"i-a": 7}, nil)}
	opts, _, out, _ = newOpts(t, &fakeAPI{}, s, "i-a")
	opts.JSON = true
	if got := exitCode(t, execRun(context.Background(), opts)); got != 7 {
		t.Errorf("one instance: exit status %d, want 7", got)
	}
	if recs := decode(t, out.String()); len(recs) != 1 || recs[0].Stdout != "one i-a\ntwo" {
		t.Errorf("one instance: records %+v", recs)
	}
}

func decode(t *testing.T, s string) []result {
	t.Helper()
	var recs []result
	dec := json.NewDecoder(strings.NewReader(s))
	for dec.More() {
		var r result
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v in %q", err, s)
		}
		recs = append(recs, r)
	}
	return recs
}

// A name resolves through the API to every instance it matches, each once; one that matches
// nothing, or a listing that fails, runs nothing.
func TestExecRunResolves(t *testing.T) {
	api := &fakeAPI{insts: []cloud.InstanceInfo{{ID: "i-1", Name: "web-1"}, {ID: "i-2", Name: "web-2"}, {ID: "i-3", Name: "db"}}}
	s := &fakeSessions{exec: perInstance(nil, nil)}
	opts, _, _, _ := newOpts(t, api, s, "web-*", "i-2")
	if err := execRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := s.instances(); !slices.Equal(got, []string{"i-1", "i-2"}) {
		t.Errorf("ran on %v", got)
	}

	s = &fakeSessions{exec: perInstance(nil, nil)}
	opts, _, _, _ = newOpts(t, api, s, "i-9", "cache-*")
	var nf *target.NotFoundError
	if err := execRun(context.Background(), opts); !errors.As(err, &nf) || len(s.calls) != 0 {
		t.Errorf("no match: error %v, %d sessions", err, len(s.calls))
	}

	listErr := errors.New("Forbidden.RAM")
	opts, _, _, _ = newOpts(t, &fakeAPI{listErr: listErr}, s, "web-*")
	if err := execRun(context.Background(), opts); !errors.Is(err, listErr) || len(s.calls) != 0 {
		t.Errorf("listing fails: error %v, %d sessions", err, len(s.calls))
	}

	// -t takes one instance; a name that matches two is a usage error.
	opts, _, _, _ = newOpts(t, api, s, "web-*")
	opts.TTY = true
	var fe *cmdutil.FlagError
	if err := execRun(context.Background(), opts); !errors.As(err, &fe) || len(s.calls) != 0 {
		t.Errorf("-t on two: error %v, %d sessions", err, len(s.calls))
	}
}

// Interrupted, a fan-out says nothing per instance (the exit status says it) and starts
// nothing more; every instance counts as failed.
func TestExecRunFanOutInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Every instance is under way when the interrupt comes: the last to start cancels.
	var entered sync.WaitGroup
	entered.Add(3)
	go func() { entered.Wait(); cancel() }()
	s := &fakeSessions{exec: func(ctx context.Context, o attach.ExecOptions) (int, error) {
		entered.Done()
		<-ctx.Done()
		return 0, context.Cause(ctx)
	}}
	opts, _, out, errOut := newOpts(t, &fakeAPI{}, s, "i-a", "i-b", "i-c")
	if got := exitCode(t, execRun(ctx, opts)); got != 255 {
		t.Errorf("exit status %d, want 255", got)
	}
	if out.Len() != 0 || errOut.Len() != 0 {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
}
