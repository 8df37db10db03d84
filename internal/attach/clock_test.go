package attach

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/pkg/forward"
	"github.com/ecsterm/ecsterm/pkg/session"
)

func TestExplainEnd(t *testing.T) {
	limit := &forward.ConnError{Listen: "127.0.0.1:8080", Remote: "localhost:80", Err: &session.ClosedError{State: session.StateClosed, Reason: "SessionTimeout"}}
	got := ExplainEnd(limit)
	want := "127.0.0.1:8080 -> localhost:80: the service ended the session at its limit of 3 hours (SessionTimeout); start a new one to go on"
	if got.Error() != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	var ce *session.ClosedError
	if !errors.As(got, &ce) || ce.Reason != "SessionTimeout" {
		t.Error("the explained error lost its cause")
	}
	idle := fmt.Errorf("proxy localhost:22: %w", &session.ClosedError{State: session.StateClosed, Reason: "IdleTimeout"})
	if got := ExplainEnd(idle).Error(); got != "proxy localhost:22: the service ended the session after 180 s with nothing sent to it (IdleTimeout)" {
		t.Errorf("idle: %q", got)
	}
	for _, err := range []error{errors.New("other"), &session.ClosedError{State: session.StateClosed, Reason: "FlowExceedLimit"}} {
		if ExplainEnd(err) != err {
			t.Errorf("%v was changed", err)
		}
	}
}

func TestPortChannelsSendNothingOfTheirOwn(t *testing.T) {
	for _, v := range []string{"2.2.3.400", "2.2.3.578", "2.2.3.579", "2.2.3.1032", "", "x"} {
		if ka := PortKeepAlive(&cloud.Instance{AgentVersion: v}); ka >= 0 {
			t.Errorf("agent %q: keep-alive %v on port channels, want none", v, ka)
		}
	}
}

// TestLimitLineEndsPlainly: the 3 h warning ends in a plain \n (on a raw terminal, a line of its
// own), so the session's stderr, which ends lines with \r\n while the terminal is raw, shows one
// \r\n and never \r\r\n.
func TestLimitLineEndsPlainly(t *testing.T) {
	const want = "ecsterm: the service ends every session 3 hours after it starts: this one ends in about 5 minutes\n"
	if got := limitLine(false); got != want {
		t.Errorf("cooked: %q, want %q", got, want)
	}
	if got := limitLine(true); got != "\n"+want {
		t.Errorf("raw: %q, want %q", got, "\n"+want)
	}
}
