package connect

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

// patience bounds every wait; nothing should take a fraction of it.
const patience = 10 * time.Second

// runOpts are Options for connectRun on fakes: the instance i-abc given by ID, and an API that
// answers the preflight with a ready instance.
func runOpts(t *testing.T, ss *fakeSessions) (*Options, *fakeAPI) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	api := &fakeAPI{inst: &cloud.Instance{ID: "i-abc", AgentOnline: true, AgentVersion: "2.2.3.800"}}
	spec, err := target.Parse("i-abc")
	if err != nil {
		t.Fatal(err)
	}
	return &Options{
		IO:         ios,
		API:        func() (API, error) { return api, nil },
		Sessions:   func() (cmdutil.Sessions, error) { return ss, nil },
		Logger:     slog.New(slog.DiscardHandler),
		Target:     "i-abc",
		Spec:       spec,
		InstanceID: "i-abc",
		EscapeChar: "~",
	}, api
}

func TestConnectRunShellOptions(t *testing.T) {
	ss := &fakeSessions{}
	opts, _ := runOpts(t, ss)
	opts.User, opts.CommandLine = "admin", "top -d 5"
	opts.EscapeChar, opts.IdleTimeout, opts.NoResume = "^X", 5*time.Minute, true
	opts.Record = filepath.Join(t.TempDir(), "s.cast")
	if err := connectRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if len(ss.shells) != 1 {
		t.Fatalf("Shell called %d times, want once", len(ss.shells))
	}
	o := ss.shells[0]
	if o.Target != (attach.Target{InstanceID: "i-abc", Username: "admin"}) || o.CommandLine != "top -d 5" {
		t.Errorf("Shell got target %+v, command line %q", o.Target, o.CommandLine)
	}
	if o.Escape != 0x18 || o.NoEscape || o.IdleTimeout != 5*time.Minute || !o.NoResume {
		t.Errorf("Shell got escape %#x (off %v), idle %v, no-resume %v; want ^X, 5m, true", o.Escape, o.NoEscape, o.IdleTimeout, o.NoResume)
	}
	if o.Recording == nil {
		t.Error("Shell got no recording with --record")
	}
	if o.Stdin != opts.IO.In || o.Stdout != opts.IO.Out || o.Stderr == nil || o.StatusOut == nil || o.SetRaw == nil {
		t.Errorf("Shell's streams are not the command's: %+v %+v %+v", o.Streams, o.Terminal, o.Reporting)
	}
	if o.ListForwards == nil || o.Command == nil {
		t.Error("Shell got no ~# or ~C")
	} else if got := o.ListForwards(); !strings.Contains(got, "no forwarded ports") {
		t.Errorf("~# without forwards shows %q", got)
	}
	// The session never started, so the recording's file is removed (attach.RecordFile.Close).
	if _, err := os.Stat(opts.Record); !os.IsNotExist(err) {
		t.Errorf("the recording of a session that never started is left behind: %v", err)
	}

	ss = &fakeSessions{}
	opts, _ = runOpts(t, ss)
	opts.EscapeChar = "none"
	if err := connectRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if o := ss.shells[0]; !o.NoEscape || o.Recording != nil || o.NoResume {
		t.Errorf("-e none: NoEscape %v, recording %v, no-resume %v; want escapes off, no recording, resume", o.NoEscape, o.Recording, o.NoResume)
	}
}

func TestConnectRunRecordsIntoRecordDir(t *testing.T) {
	ss := &fakeSessions{}
	opts, _ := runOpts(t, ss)
	opts.RecordDir = t.TempDir()
	if err := connectRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if ss.shells[0].Recording == nil {
		t.Error("record_dir set, and Shell got no recording")
	}
}

func TestConnectRunErrors(t *testing.T) {
	boom := errors.New("the agent ended the session")
	ss := &fakeSessions{shell: func(attach.ShellOptions) error { return boom }}
	opts, _ := runOpts(t, ss)
	if err := connectRun(context.Background(), opts); !errors.Is(err, boom) || err.Error() != "connect: "+boom.Error() {
		t.Errorf("connectRun = %v, want Shell's error wrapped as connect: ...", err)
	}

	// A recording that cannot be written costs no credentials.
	opts, _ = runOpts(t, &fakeSessions{})
	opts.Record = filepath.Join(t.TempDir(), "no", "such", "dir", "s.cast")
	opts.API = func() (API, error) {
		t.Error("the API was asked for before the recording's file was checked")
		return nil, errNoCloud
	}
	if err := connectRun(context.Background(), opts); err == nil {
		t.Error("connectRun = nil with a recording that cannot be written")
	}

	noCreds := errors.New("no credentials")
	for name, set := range map[string]func(*Options){
		"API":      func(o *Options) { o.API = func() (API, error) { return nil, noCreds } },
		"Sessions": func(o *Options) { o.Sessions = func() (cmdutil.Sessions, error) { return nil, noCreds } },
	} {
		ss := &fakeSessions{}
		opts, _ := runOpts(t, ss)
		set(opts)
		if err := connectRun(context.Background(), opts); !errors.Is(err, noCreds) || len(ss.shells) != 0 {
			t.Errorf("%s failing: connectRun = %v after %d shells, want its error and no shell", name, err, len(ss.shells))
		}
	}
}

func TestConnectRunResolvesByName(t *testing.T) {
	ss := &fakeSessions{}
	opts, api := runOpts(t, ss)
	api.insts = []cloud.InstanceInfo{{ID: "i-web", Name: "web-01"}}
	opts.Spec, opts.InstanceID = target.Spec{Kind: target.KindName, Value: "web-01"}, ""
	if err := connectRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := ss.shells[0].InstanceID; got != "i-web" {
		t.Errorf("Shell opened on %q, want the resolved i-web", got)
	}
}

func TestConnectRunInstallAgent(t *testing.T) {
	ss := &fakeSessions{}
	opts, api := runOpts(t, ss)
	api.inst = &cloud.Instance{ID: "i-abc"} // no agent at all
	opts.InstallAgent, opts.Yes = true, true
	err := connectRun(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "reboot") || len(api.installed) != 1 || api.installed[0] != "i-abc" {
		t.Errorf("connectRun = %v after installing on %q; want the agent installed on i-abc and a reboot asked for", err, api.installed)
	}
	if len(ss.shells) != 0 {
		t.Error("a shell was opened on an instance that must reboot first")
	}

	// Without a terminal to confirm on, --yes is needed.
	ss = &fakeSessions{}
	opts, api = runOpts(t, ss)
	api.inst = &cloud.Instance{ID: "i-abc"}
	opts.InstallAgent = true
	var fe *cmdutil.FlagError
	if err := connectRun(context.Background(), opts); !errors.As(err, &fe) || len(api.installed) != 0 {
		t.Errorf("connectRun = %v, installed %q; want a usage error and nothing installed", err, api.installed)
	}
}

// TestConnectRunForwards: -L and -D are bound before the shell opens (a port the system picked is
// announced), their connections open port channels on the session's instance, a refused one is
// reported while the terminal is raw as one line ending in a single \r\n, and the channels are
// closed when the shell ends.
func TestConnectRunForwards(t *testing.T) {
	ports := &fakePorts{err: errors.Join(errors.New("the instance has reached its limit"), forward.ErrRefused)}
	lines := make(chan string, 64)
	ss := &fakeSessions{ports: ports}
	opts, _ := runOpts(t, ss)
	ios, _, _, errOut := iostreams.Test()
	ios.ErrOut = &tee{w: ios.ErrOut, each: lines}
	opts.IO = ios
	opts.Locals = []forward.LocalSpec{{Bind: "127.0.0.1", Port: 0, HostPort: 80}}
	opts.Dynamics = []forward.DynamicSpec{{Bind: "127.0.0.1", Port: 0}}
	announced := regexp.MustCompile(`forwarding (127\.0\.0\.1:\d+) -> localhost:80\n`)
	ss.shell = func(o attach.ShellOptions) error {
		before := errOut.String() // written on this goroutine, before the session
		m := announced.FindStringSubmatch(before)
		if m == nil || !regexp.MustCompile(`forwarding 127\.0\.0\.1:\d+ -> SOCKS5\n`).MatchString(before) {
			t.Fatalf("before the shell, stderr = %q; want both listeners announced", before)
		}
		o.SetRaw(true)
		defer o.SetRaw(false)
		c, err := net.Dial("tcp", m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		deadline := time.After(patience)
		for {
			select {
			case l := <-lines:
				if strings.Contains(l, "reached its limit") {
					if got := o.ListForwards(); !strings.Contains(got, "forwarding "+m[1]+" -> localhost:80") {
						t.Errorf("~# shows %q", got)
					}
					return nil
				}
			case <-deadline:
				t.Fatal("the refused connection was never reported")
			}
		}
	}
	if err := connectRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got := errOut.String()
	if !regexp.MustCompile(`\necsterm: [^\r\n]*reached its limit[^\r\n]*\r\n`).MatchString(got) || strings.Contains(got, "\r\r\n") {
		t.Errorf("stderr = %q; want the refusal on a line ending in one \\r\\n, and never \\r\\r\\n", got)
	}
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if len(ports.opened) != 1 || ports.opened[0] != "localhost:80" || !ports.closed {
		t.Errorf("port channels: opened %q, closed %v; want one to localhost:80, closed at the end", ports.opened, ports.closed)
	}
	if len(ss.portsWere) != 1 || ss.portsWere[0].InstanceID != "i-abc" {
		t.Errorf("Ports asked for %+v, want i-abc once", ss.portsWere)
	}
}

// TestForwardsReportEndsLinePlainly: a refused connection is reported with a plain \n, so a
// cooked stderr gets no stray \r and a raw one (which adds the \r itself) no \r\r\n.
func TestForwardsReportEndsLinePlainly(t *testing.T) {
	for _, raw := range []bool{false, true} {
		ios, _, _, errOut := iostreams.Test()
		ios.SetRaw(raw)
		opts, _ := runOpts(t, &fakeSessions{ports: &fakePorts{}})
		fd := newForwards(context.Background(), &fakeSessions{ports: &fakePorts{}}, opts, &cmdutil.LockedWriter{W: ios.ErrOut})
		fw, _ := fd.newFw()
		fw.Report(errors.New("127.0.0.1:8080 -> localhost:80: refused"))
		fd.stop()
		want := "ecsterm: 127.0.0.1:8080 -> localhost:80: refused\n"
		if raw {
			want = strings.ReplaceAll(want, "\n", "\r\n")
		}
		if got := errOut.String(); got != want {
			t.Errorf("raw=%v: stderr = %q, want %q", raw, got, want)
		}
	}
}
