package attach

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// Channel is a session whose WebSocket is up, for a caller that runs its own exchange over it
// (the --persist holder's warm sessions). Run pumps it; End ends it.
type Channel struct {
	op      *opened
	expired func() bool
	endOnce sync.Once
}

// Open starts a session on t running commandLine, as Shell and Exec do: preflight alongside
// StartTerminalSession and the dial, the session ended at once if preflight finds the instance
// not ready. A Linux instance is required when linux is set (the exec exchange is POSIX sh).
func (a *Attacher) Open(ctx context.Context, t Target, commandLine string, linux bool) (*Channel, error) {
	var check func(*cloud.Instance) error
	if linux {
		check = func(in *cloud.Instance) error {
			if in.Windows() {
				return fmt.Errorf("%s %w", in.ID, ErrWindows)
			}
			return nil
		}
	}
	op, err := a.open(ctx, t, commandLine, check)
	if err != nil {
		return nil, err
	}
	return &Channel{op: op, expired: pastLimit(time.Now())}, nil
}

// Instance is the instance the channel is on, as preflight found it.
func (c *Channel) Instance() *cloud.Instance { return c.op.inst }

// SessionID is the channel's session, for logs and for matching DescribeTerminalSessions.
func (c *Channel) SessionID() string { return c.op.sess.ID }

// Run pumps the channel until it ends (session.Run). Unless o says otherwise, it resumes after a
// drop (schema 1.02, status to the debug log), bounds the wait for the agent's first frame, and
// reads a drop past the agent's 3 h limit as that end.
func (c *Channel) Run(ctx context.Context, o session.Options) error {
	a := c.op.a
	if o.Logger == nil {
		o.Logger = a.log
	}
	if o.Resume == nil {
		o.Resume = resumeOptions(false, c.op.sess, nil, false, a.log)
		o.Resume.Expired = c.expired
	}
	if o.Silence == nil {
		o.Silence = silenceOptions(nil, a.log)
	}
	err := session.Run(ctx, c.op.conn, o)
	if err != nil && ctx.Err() == nil {
		return ExplainEnd(endedOutside(expiredDrop(err, c.expired)))
	}
	return err
}

// End closes the WebSocket (if Run has not) and ends the session (EndTerminalSession), once.
func (c *Channel) End() {
	c.endOnce.Do(func() {
		c.op.conn.Close()
		c.op.end()
	})
}
