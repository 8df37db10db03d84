package session

import (
	"fmt"
	"time"
)

// A gateway may accept the WebSocket and then send nothing: an agent that never starts the
// channel, a gateway that lost it. Without a bound, connect and exec would wait in silence for
// as long as the TCP connection lives. Interactive and exec sessions always hear something soon:
// the shell's prompt, or the exec bootstrap's ready marker, which the agent sends about a second
// after the channel opens (two on older agents). Port sessions may rightly hear nothing until
// the local client speaks, and run without a bound.

// Defaults for SilenceOptions: a slow agent (an instance under load, an old agent) may take
// several seconds, so the user hears what ecsterm waits for at 5 s, and it gives up at 60 s.
const (
	DefaultSilenceNotice = 5 * time.Second
	DefaultSilenceLimit  = 60 * time.Second
)

// SilenceOptions bound the wait for the gateway's first frame. Zero durations take the defaults.
type SilenceOptions struct {
	// Notice is how long Run waits before telling OnNotice that nothing has come yet.
	Notice time.Duration
	// Limit is how long Run waits before it gives up with a *NoAnswerError.
	Limit time.Duration
	// OnNotice is told, once, how long Run has waited. Nil says nothing.
	OnNotice func(waited time.Duration)
}

// NoAnswerError ends a session whose gateway accepted the connection and then sent nothing for
// Waited.
type NoAnswerError struct{ Waited time.Duration }

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("no answer from the instance %s after the session gateway accepted the connection "+
		"(is the Cloud Assistant agent running?)", e.Waited)
}

// silence is the run loop's side of SilenceOptions: its channels are nil when there is nothing
// to wait for.
type silence struct {
	opts          SilenceOptions
	heard         <-chan struct{}
	notice, limit *time.Timer
}

// newSilence arms the bound; heard is closed at the gateway's first frame.
func newSilence(o *SilenceOptions, heard <-chan struct{}) *silence {
	if o == nil {
		return &silence{}
	}
	z := &silence{opts: *o, heard: heard}
	if z.opts.Notice <= 0 {
		z.opts.Notice = DefaultSilenceNotice
	}
	if z.opts.Limit <= 0 {
		z.opts.Limit = DefaultSilenceLimit
	}
	z.notice = time.NewTimer(z.opts.Notice)
	z.limit = time.NewTimer(z.opts.Limit)
	return z
}

func (z *silence) noticeC() <-chan time.Time {
	if z.notice == nil {
		return nil
	}
	return z.notice.C
}

func (z *silence) limitC() <-chan time.Time {
	if z.limit == nil {
		return nil
	}
	return z.limit.C
}

// tell calls OnNotice, once.
func (z *silence) tell() {
	z.notice = nil
	if z.opts.OnNotice != nil {
		z.opts.OnNotice(z.opts.Notice)
	}
}

// stop disarms the bound: the gateway spoke, or the session is over.
func (z *silence) stop() {
	if z.notice != nil {
		z.notice.Stop()
	}
	if z.limit != nil {
		z.limit.Stop()
	}
	*z = silence{}
}

// giveUp returns the error that ends the session, after the notice if the run loop has not
// told it yet (both timers may have fired by the time it looks).
func (z *silence) giveUp() error {
	if z.notice != nil {
		z.tell()
	}
	return &NoAnswerError{Waited: z.opts.Limit}
}
