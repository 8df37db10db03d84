package attach

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
)

// fakeAPI is the service as a table: what preflight says and what StartTerminalSession gives.
type fakeAPI struct {
	preErr   error
	startErr error

	mu    sync.Mutex
	ended []string
}

func (f *fakeAPI) Preflight(_ context.Context, id string) (*cloud.Instance, error) {
	if f.preErr != nil {
		return nil, f.preErr
	}
	return &cloud.Instance{ID: id}, nil
}

func (f *fakeAPI) StartSession(context.Context, cloud.StartOptions) (*cloud.Session, error) {
	if f.startErr != nil {
		return nil, f.startErr
	}
	// A URL nothing listens on: the dial fails at once, on loopback.
	return &cloud.Session{ID: "s-fake", URL: "ws://127.0.0.1:1/session?token=x"}, nil
}

func (f *fakeAPI) EndSession(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, id)
	return nil
}

// TestOpenPrefersPreflightAndEndsTheSession: through the API seam, a session started while
// preflight finds the instance not ready is ended, and preflight's reason is what the command
// hears, for a shell and for exec alike.
func TestOpenPrefersPreflightAndEndsTheSession(t *testing.T) {
	notReady := errors.New("i-x is Stopped: start it first")
	for _, kind := range []string{"shell", "exec"} {
		t.Run(kind, func(t *testing.T) {
			api := &fakeAPI{preErr: notReady}
			a := New(Config{API: api})
			var err error
			if kind == "shell" {
				err = a.Shell(t.Context(), ShellOptions{Target: Target{InstanceID: "i-x"}, Streams: Streams{Stdout: &bytes.Buffer{}}})
			} else {
				_, err = a.Exec(t.Context(), ExecOptions{Target: Target{InstanceID: "i-x"}, Streams: Streams{Stdout: &bytes.Buffer{}}, Command: "true"})
			}
			if !errors.Is(err, notReady) {
				t.Fatalf("err = %v, want preflight's", err)
			}
			if len(api.ended) != 1 || api.ended[0] != "s-fake" {
				t.Errorf("sessions ended = %v, want [s-fake]", api.ended)
			}
		})
	}
}

// TestOpenStartRefused: when StartTerminalSession fails and preflight is fine, its error is the
// answer and there is nothing to end.
func TestOpenStartRefused(t *testing.T) {
	refused := errors.New("Throttling.User")
	api := &fakeAPI{startErr: refused}
	_, err := New(Config{API: api}).Exec(t.Context(), ExecOptions{Target: Target{InstanceID: "i-x"}, Command: "true"})
	if !errors.Is(err, refused) {
		t.Fatalf("err = %v, want StartTerminalSession's", err)
	}
	if len(api.ended) != 0 {
		t.Errorf("sessions ended = %v, want none", api.ended)
	}
}
