package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/attach/attachtest"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/internal/target"
)

// runOpts are Options for proxyRun on fakes: port 22 of i-abc given by ID, stdin holding in,
// and an API that fails the test if it is asked anything.
func runOpts(t *testing.T, ss *attachtest.Sessions, in string) (*Options, *strings.Builder) {
	t.Helper()
	ios, stdin, _, _ := iostreams.Test()
	stdin.WriteString(in)
	var out strings.Builder
	ios.Out = &out
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
		Port:       22,
	}, &out
}

func TestProxyRunCarriesBytes(t *testing.T) {
	for _, tt := range []struct {
		name, host string
		port       int
		want       string
	}{
		{name: "the instance", port: 22, want: "localhost:22"},
		{name: "a host behind it", host: "10.0.0.7", port: 5432, want: "10.0.0.7:5432"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ports := &attachtest.Ports{URL: attachtest.EchoGateway(t)}
			ss := &attachtest.Sessions{P: ports}
			const in = "SSH-2.0-client\r\nand the rest of what ssh sends\n"
			opts, out := runOpts(t, ss, in)
			opts.Host, opts.Port = tt.host, tt.port
			if err := proxyRun(context.Background(), opts); err != nil {
				t.Fatalf("proxyRun = %v", err)
			}
			if out.String() != in {
				t.Errorf("stdout = %q, want stdin's bytes echoed back unchanged", out.String())
			}
			if got := ports.Asked(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("port channels opened to %q, want one to %s", got, tt.want)
			}
			if len(ss.Asked()) != 1 || ss.Asked()[0].InstanceID != "i-abc" {
				t.Errorf("Ports asked for %+v, want i-abc", ss.Asked())
			}
			if !ports.WasClosed() {
				t.Error("the port channels were not closed at the end")
			}
		})
	}
}

func TestProxyRunResolvesByName(t *testing.T) {
	ports := &attachtest.Ports{URL: attachtest.EchoGateway(t)}
	ss := &attachtest.Sessions{P: ports}
	opts, out := runOpts(t, ss, "x")
	opts.Spec, opts.InstanceID = target.Spec{Kind: target.KindName, Value: "web-01"}, ""
	opts.API = func() (API, error) {
		return &fakeAPI{insts: []cloud.InstanceInfo{{ID: "i-web", Name: "web-01"}}}, nil
	}
	if err := proxyRun(context.Background(), opts); err != nil || out.String() != "x" {
		t.Fatalf("proxyRun = %v, stdout %q", err, out.String())
	}
	if len(ss.Asked()) != 1 || ss.Asked()[0].InstanceID != "i-web" {
		t.Errorf("Ports asked for %+v, want the resolved i-web", ss.Asked())
	}
}

func TestProxyRunAmbiguousNameListsMatches(t *testing.T) {
	opts, _ := runOpts(t, &attachtest.Sessions{P: &attachtest.Ports{}}, "")
	opts.Spec, opts.InstanceID = target.Spec{Kind: target.KindName, Value: "web-*"}, ""
	opts.API = func() (API, error) {
		return &fakeAPI{insts: []cloud.InstanceInfo{{ID: "i-web1", Name: "web-01"}, {ID: "i-web2", Name: "web-02"}}}, nil
	}
	opts.Sessions = func() (cmdutil.Sessions, error) {
		t.Error("Sessions asked for with an ambiguous target")
		return nil, errors.New("no")
	}
	err := proxyRun(context.Background(), opts)
	var amb *target.AmbiguousError
	if !errors.As(err, &amb) || len(amb.Matches) != 2 {
		t.Errorf("proxyRun = %v, want the two matches listed (no picker: stdin is ssh's)", err)
	}
}

func TestProxyRunErrors(t *testing.T) {
	refused := errors.New("the instance has reached its limit")
	ports := &attachtest.Ports{OpenErr: refused}
	opts, out := runOpts(t, &attachtest.Sessions{P: ports}, "x")
	err := proxyRun(context.Background(), opts)
	if !errors.Is(err, refused) || !strings.HasPrefix(err.Error(), "proxy localhost:22: ") {
		t.Errorf("proxyRun = %v, want the refusal wrapped as proxy localhost:22", err)
	}
	if out.Len() != 0 || !ports.WasClosed() {
		t.Errorf("stdout %q, closed %v; want nothing written and the port channels closed", out.String(), ports.WasClosed())
	}

	noCreds := errors.New("no credentials")
	opts, _ = runOpts(t, nil, "")
	opts.Sessions = func() (cmdutil.Sessions, error) { return nil, noCreds }
	if err := proxyRun(context.Background(), opts); !errors.Is(err, noCreds) {
		t.Errorf("proxyRun = %v, want the Sessions error", err)
	}
}

// TestProxyRunHangUp: ssh hangs its ProxyCommand up when it is done; that ends proxyRun with nil.
func TestProxyRunHangUp(t *testing.T) {
	ports := &attachtest.Ports{URL: attachtest.EchoGateway(t)}
	opts, _ := runOpts(t, &attachtest.Sessions{P: ports}, "")
	r, w := ioPipe(t)
	opts.IO.In = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proxyRun(ctx, opts) }()
	if _, err := w.Write([]byte("x")); err != nil { // proxyRun reads stdin: the session is up
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("proxyRun = %v after the hang-up, want nil", err)
	}
}

func ioPipe(t *testing.T) (*io.PipeReader, *io.PipeWriter) {
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	return r, w
}
