package attach

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// The agent's own clocks, as ecsterm plans around them (see docs/protocol.md, Keep-alive and
// timeouts). Only test binaries (the ecsterm_faults tag, clock_inject.go) scale them, so the
// end-to-end tests can meet them in seconds against an emulator whose clocks are scaled alike.

// AgentSessionLimit is how long the agent lets any session live, whatever its traffic.
const AgentSessionLimit = 3 * time.Hour

// limitWarning is how long before the agent's limit a session says it is coming.
const limitWarning = 5 * time.Minute

// clockDiv divides the clocks above, and the keep-alive interval; 1 outside tests.
var clockDiv = 1

// scaled is d on this binary's clock.
func scaled(d time.Duration) time.Duration { return d / time.Duration(clockDiv) }

// SessionLimit is the agent's session limit on this binary's clock, and how long before it a
// session should warn.
func SessionLimit() (limit, warnBefore time.Duration) {
	return scaled(AgentSessionLimit), scaled(limitWarning)
}

// AgentIdleLimit is how long the agent keeps a channel on which nothing arrives from the client.
const AgentIdleLimit = 180 * time.Second

// agentEnds words the reasons the agent gives when it ends a session on its own clocks.
var agentEnds = map[string]string{
	"SessionTimeout": "the service ended the session at its limit of 3 hours (SessionTimeout); start a new one to go on",
	"IdleTimeout":    "the service ended the session after 180 s with nothing sent to it (IdleTimeout)",
}

// ExplainEnd rewords an error that carries the agent's own end of a session (its 3 h limit, its
// idle limit) so that a user reads why, and keeps the rest of the message (which forward, which
// connection). Other errors come back as they are.
func ExplainEnd(err error) error {
	if errors.Is(err, session.ErrExpired) {
		// A drop with no status once the limit has passed: the limit's end as the agent saw it.
		return &endError{msg: agentEnds["SessionTimeout"], err: err}
	}
	var ce *session.ClosedError
	if !errors.As(err, &ce) {
		return err
	}
	why, ok := agentEnds[ce.Reason]
	if !ok {
		return err
	}
	return &endError{msg: strings.Replace(err.Error(), ce.Error(), why, 1), err: err}
}

// pastLimit returns a func that reports whether the agent's session limit has passed for a
// session that started at start (on this binary's clock).
func pastLimit(start time.Time) func() bool {
	limit, _ := SessionLimit()
	return func() bool { return time.Since(start) >= limit }
}

// expiredDrop marks err, the end of a session without the agent's status, as the limit's end
// when the limit has passed: a session that does not resume (schema 1.01) ends on the drop
// itself, which is then no fault of the network. Other errors come back as they are.
func expiredDrop(err error, expired func() bool) error {
	var ce *session.ClosedError
	if err == nil || errors.Is(err, session.ErrExpired) || errors.As(err, &ce) || !expired() {
		return err
	}
	return fmt.Errorf("%w: %w", session.ErrExpired, err)
}

type endError struct {
	msg string
	err error
}

func (e *endError) Error() string { return e.msg }
func (e *endError) Unwrap() error { return e.err }

// WarnLimit says once on w, limitWarning before the agent's session limit, that the service is
// about to end the session; the returned func stops it. On a raw terminal (raw) the line is
// one of its own, below whatever the remote side drew. A nil w says nothing.
func WarnLimit(w io.Writer, raw bool) (stop func()) {
	if w == nil {
		return func() {}
	}
	limit, before := SessionLimit()
	t := time.AfterFunc(limit-before, func() { fmt.Fprint(w, limitLine(raw)) })
	return func() { t.Stop() }
}

// limitLine is WarnLimit's line. It ends in a plain "\n", as every line on the session's stderr
// does: while the terminal is raw, that stream (internal/iostreams) turns it into "\r\n".
func limitLine(raw bool) string {
	const line = "ecsterm: the service ends every session 3 hours after it starts: this one ends in about 5 minutes\n"
	if raw {
		return "\n" + line
	}
	return line
}
