package connect

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
	"github.com/ecsterm/ecsterm/internal/config"
	"github.com/ecsterm/ecsterm/internal/iostreams"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

var (
	errNoCloud    = errors.New("no cloud in this test")
	errNoSessions = errors.New("no sessions in this test")
)

// testFactory is a Factory with default settings whose Cloud and Sessions fail.
func testFactory(ios *iostreams.IOStreams) *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: ios,
		Config:    func() (*config.Config, error) { return &config.Config{}, nil },
		Logger:    func() *slog.Logger { return slog.New(slog.DiscardHandler) },
		Cloud:     func() (*cloud.Client, error) { return nil, errNoCloud },
		Sessions:  func() (cmdutil.Sessions, error) { return nil, errNoSessions },
	}
}

// fakeSessions is the Sessions seam: Shell hands its options to shell (nil: the session ends
// at once, normally), and Ports hands out ports.
type fakeSessions struct {
	shell func(attach.ShellOptions) error
	ports *fakePorts

	mu        sync.Mutex
	shells    []attach.ShellOptions
	portsWere []attach.PortOptions
}

func (s *fakeSessions) Shell(_ context.Context, o attach.ShellOptions) error {
	s.mu.Lock()
	s.shells = append(s.shells, o)
	s.mu.Unlock()
	if s.shell == nil {
		return nil
	}
	return s.shell(o)
}

func (s *fakeSessions) Exec(context.Context, attach.ExecOptions) (int, error) {
	return 0, errors.New("connect runs no exec exchange")
}

func (s *fakeSessions) Ports(_ context.Context, o attach.PortOptions) attach.PortOpener {
	s.mu.Lock()
	s.portsWere = append(s.portsWere, o)
	s.mu.Unlock()
	return s.ports
}

// fakePorts refuses every channel with err, and records what it was asked for.
type fakePorts struct {
	err error

	mu     sync.Mutex
	opened []string
	closed bool
}

func (p *fakePorts) Open(_ context.Context, host string, port int) (*forward.Stream, error) {
	p.mu.Lock()
	p.opened = append(p.opened, forward.Describe(host, port))
	p.mu.Unlock()
	return nil, p.err
}

func (p *fakePorts) Ready(context.Context) (*cloud.Instance, error) { return nil, p.err }

func (p *fakePorts) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// fakeAPI lists insts whatever the filter; its preflight answers inst, and InstallAgent records
// the instance.
type fakeAPI struct {
	insts     []cloud.InstanceInfo
	inst      *cloud.Instance
	installed []string
}

func (a *fakeAPI) ListInstances(context.Context, cloud.InstanceFilter) ([]cloud.InstanceInfo, error) {
	return a.insts, nil
}

func (a *fakeAPI) Preflight(context.Context, string) (*cloud.Instance, error) {
	if a.inst == nil {
		return nil, errors.New("no such instance")
	}
	return a.inst, nil
}

func (a *fakeAPI) InstallAgent(_ context.Context, id string) error {
	a.installed = append(a.installed, id)
	return nil
}

// tee passes writes on to w and then hands a copy to each, so a test can wait for a line that
// another goroutine writes.
type tee struct {
	w    io.Writer
	each chan string
}

func (t *tee) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	select {
	case t.each <- string(p):
	default: // nobody is waiting for this many lines
	}
	return n, err
}
