package forward

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/attach/attachtest"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

// runOpts are Options for forwardRun on fakes: the instance i-abc given by ID, -L 0:80, and an
// API that fails the test if it is asked anything.
func runOpts(t *testing.T, ss *attachtest.Sessions) *Options {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	spec, err := target.Parse("i-abc")
	if err != nil {
		t.Fatal(err)
	}
	return &Options{
		IO: ios,
		API: func() (API, error) {
			t.Error("the API was asked for, with an instance ID")
			return nil, errors.New("no API here")
		},
		Sessions:   func() (cmdutil.Sessions, error) { return ss, nil },
		Logger:     slog.New(slog.DiscardHandler),
		Spec:       spec,
		InstanceID: "i-abc",
		Locals:     []forward.LocalSpec{{Bind: "127.0.0.1", Port: 0, HostPort: 80}},
	}
}

// start runs forwardRun until the test stops it; stop cancels it and returns its error.
func start(t *testing.T, opts *Options) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- forwardRun(ctx, opts) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// lines reads what is written to w one line at a time.
func lines(t *testing.T) (io.Writer, *bufio.Scanner) {
	t.Helper()
	r, w := io.Pipe()
	t.Cleanup(func() { r.Close() })
	return w, bufio.NewScanner(r)
}

func next(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	if !sc.Scan() {
		t.Fatalf("no line: %v", sc.Err())
	}
	return sc.Text()
}

func TestForwardRunCarriesBytes(t *testing.T) {
	ports := &attachtest.Ports{URL: attachtest.EchoGateway(t)}
	ss := &attachtest.Sessions{P: ports}
	opts := runOpts(t, ss)
	opts.JSON = true
	out, sc := lines(t)
	opts.IO.Out = out
	stop := start(t, opts)

	var a announcement
	if err := json.Unmarshal([]byte(next(t, sc)), &a); err != nil {
		t.Fatal(err)
	}
	want := announcement{Listen: a.Listen, Type: "local", Host: "localhost", Port: 80, Instance: "i-abc"}
	if a != want || !strings.HasPrefix(a.Listen, "127.0.0.1:") {
		t.Fatalf("announced %+v, want %+v on 127.0.0.1", a, want)
	}
	c, err := net.Dial("tcp", a.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("read %q, %v through the forward; want the echo of ping", got, err)
	}
	c.Close()

	if err := stop(); err != nil {
		t.Errorf("forwardRun = %v after its context ended, want nil", err)
	}
	if got := ports.Asked(); len(got) != 1 || got[0] != "localhost:80" {
		t.Errorf("port channels opened to %q, want one to localhost:80", got)
	}
	if len(ss.Asked()) != 1 || ss.Asked()[0].InstanceID != "i-abc" {
		t.Errorf("Ports asked for %+v, want i-abc", ss.Asked())
	}
	if !ports.WasClosed() {
		t.Error("the port channels were not closed at the end")
	}
}

func TestForwardRunResolvesAndReports(t *testing.T) {
	ports := &attachtest.Ports{OpenErr: errors.Join(errors.New("the instance has reached its limit"), forward.ErrRefused)}
	ss := &attachtest.Sessions{P: ports}
	opts := runOpts(t, ss)
	spec, err := target.Parse("web-01")
	if err != nil {
		t.Fatal(err)
	}
	opts.Spec, opts.InstanceID = spec, ""
	opts.API = func() (API, error) {
		return &fakeAPI{insts: []cloud.InstanceInfo{{ID: "i-web", Name: "web-01"}}}, nil
	}
	errOut, sc := lines(t)
	opts.IO.ErrOut = errOut
	stop := start(t, opts)

	first := next(t, sc)
	addr, ok := strings.CutPrefix(first, "forwarding ")
	addr, _, _ = strings.Cut(addr, " ")
	if !ok || first != "forwarding "+addr+" -> localhost:80 via i-web" {
		t.Fatalf("stderr: %q, want the listener via i-web", first)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if line := next(t, sc); !strings.HasPrefix(line, "ecsterm: ") || !strings.Contains(line, "reached its limit") {
		t.Errorf("report %q, want the refusal on a line of its own", line)
	}
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("the refused connection read %d bytes, want it closed", n)
	}
	if err := stop(); err != nil {
		t.Errorf("forwardRun = %v, want nil", err)
	}
	if len(ss.Asked()) != 1 || ss.Asked()[0].InstanceID != "i-web" {
		t.Errorf("Ports asked for %+v, want the resolved i-web", ss.Asked())
	}
}

func TestForwardRunErrors(t *testing.T) {
	notReady := errors.New("the agent is offline")
	noCreds := errors.New("no credentials")
	tests := []struct {
		name  string
		setup func(o *Options, p *attachtest.Ports)
		want  error
	}{
		{name: "Ready", setup: func(_ *Options, p *attachtest.Ports) { p.ReadyErr = notReady }, want: notReady},
		{name: "Sessions", setup: func(o *Options, _ *attachtest.Ports) {
			o.Sessions = func() (cmdutil.Sessions, error) { return nil, noCreds }
		}, want: noCreds},
		{name: "API", setup: func(o *Options, _ *attachtest.Ports) {
			o.Spec, o.InstanceID = target.Spec{Kind: target.KindName, Value: "web-01"}, ""
			o.API = func() (API, error) { return nil, noCreds }
			o.Sessions = func() (cmdutil.Sessions, error) {
				t.Error("Sessions asked for after the target failed to resolve")
				return nil, noCreds
			}
		}, want: noCreds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports := &attachtest.Ports{}
			opts := runOpts(t, &attachtest.Sessions{P: ports})
			var out strings.Builder
			opts.IO.Out = &out
			tt.setup(opts, ports)
			if err := forwardRun(context.Background(), opts); !errors.Is(err, tt.want) {
				t.Errorf("forwardRun = %v, want %v", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing announced", out.String())
			}
			if tt.name == "Ready" && !ports.WasClosed() {
				t.Error("the port channels were not closed after Ready failed")
			}
		})
	}
}
