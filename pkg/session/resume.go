package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Resume over schema 1.02 (docs/protocol.md, Sequence numbers and resume). The client keeps its
// input counter, the last Output it accepted, and the Input and Resize frames the gateway has not
// acknowledged; when the WebSocket drops it redials the same channel with &channelId=, sends a Sync
// carrying its counters, and the gateway replays what the client missed and names the first input
// it lacks.
//
// The reference leaves much of the gateway's side unknown (docs/protocol.md, Ledger). Where it
// does, this file chooses what is safe whichever way the answer goes:
//   - Acknowledgements are trusted only from Output and Sync frames of a gateway that numbers its
//     output (Status seqs are placeholders: docs/protocol.md, Frames). A gateway whose first Output
//     carries outputSeq 0 speaks the 1.01 layout: everything it sends is delivered, nothing is
//     queued, and a drop ends the session, because a resumed stream could not be checked for lost
//     or repeated bytes.
//   - The first Output's seq is the baseline, whatever it is: on a fresh connection nothing can
//     have been missed.
//   - A server Sync's inputSeq is the first input the gateway wants ("next expected", as WEB's
//     resend check implies: docs/protocol.md, Sequence numbers and resume): it acknowledges
//     everything before. Frames from it on that were not written on the current connection are
//     resent (those that were are in flight), so a gateway may send a Sync merely to acknowledge
//     input when it has no output to carry the acknowledgement; one that tracks seqs drops any
//     duplicate anyway.
//   - The queue of unacknowledged input is bounded; when full, input waits for an acknowledgement,
//     but not for ever (inputqueue.go): a gateway that never acknowledges input without output must
//     not stall an upload.
//   - After reconnecting, input waits (queued, in order) until the gateway answers: a Sync, an
//     Opened status or an Output ends the wait; so does SyncTimeout, after which the whole queue is
//     resent rather than held for ever.
//   - A reconnected connection whose frames name another channel means the gateway started a new
//     one instead of resuming: the session ends, rather than mixing two channels' streams.
//   - 1.02 is not validated against the live gateway (docs/protocol.md, How the schema is chosen).
//     If the gateway ends a 1.02 channel before any output and before any reconnect, Run dials the
//     URL again without &channelId= (a new channel) and carries on in 1.01, resending the input it
//     had queued. Against a gateway that takes 1.02 this costs nothing; against one that refuses
//     it, the session still works. (This fall back happens inside Run rather than in the caller:
//     Run holds the input it already read from Stdin and the goroutine reading it, so a second Run
//     would lose the first's input or race it for Stdin.)

// ResumeOptions configure reconnecting. Redial is required; zero values take the defaults named
// on each field.
type ResumeOptions struct {
	// Redial opens a new WebSocket to the session: the original URL with "&channelId=" and
	// channelID appended as they are (WEB appends it unescaped; docs/protocol.md, Reconnecting), or
	// the original URL alone when channelID is empty (a new channel).
	Redial func(ctx context.Context, channelID string) (*websocket.Conn, error)
	// Attempts bounds the redials after one drop. Default 8.
	Attempts int
	// Backoff is the wait before the first redial; it doubles up to MaxBackoff, each wait
	// jittered down by up to half. Defaults 250 ms and 4 s.
	Backoff, MaxBackoff time.Duration
	// OnStatus is told, in one line each, that the connection was lost and which attempt is
	// running, that it is back, or that Run gave up. Nil discards them.
	OnStatus func(string)
	// QueueLimit bounds the unacknowledged input kept for resending, in payload bytes; when it
	// is full, input waits for an acknowledgement. Default 8 MiB.
	QueueLimit int
	// AckWait bounds that wait: past it the oldest frames are let go (see inputqueue.go), and a
	// resume that needs them fails instead. Default 3 s.
	AckWait time.Duration
	// AckEvery is how much output may arrive before the client acknowledges it with a heartbeat
	// (the gateway frees its replay buffer only on acknowledgements). Default 256 KiB.
	AckEvery int
	// SyncTimeout is how long input waits, after a reconnect, for the gateway to say where to
	// resume. Default 10 s (WEB's connect timeout; docs/protocol.md, Reconnecting).
	SyncTimeout time.Duration
	// Expired, when set, reports that the session cannot be there any more (the agent ends
	// every session at its limit, whatever the traffic): a drop then ends Run with an error
	// that wraps ErrExpired and the drop, and nothing is redialled.
	Expired func() bool
}

// ErrExpired is wrapped by the error of a drop that ResumeOptions.Expired kept from resuming.
var ErrExpired = errors.New("the session's time was up")

// Errors that end a session which cannot resume: errNewChannel when a reconnect reached a new
// channel (its output would not follow on), errInputLost when the gateway wants input that was
// let go unacknowledged.
var (
	errNewChannel = errors.New("the gateway opened a new channel instead of resuming")
	errInputLost  = errors.New("the gateway lacks input that is no longer held (it stopped acknowledging input)")
)

// DefaultResumeAttempts is ResumeOptions.Attempts when zero.
const DefaultResumeAttempts = 8

// seqMode is what the first Output showed of the gateway's numbering.
type seqMode int32

const (
	seqUnknown seqMode = iota // no Output yet
	seqFul                    // Outputs numbered from a non-zero seq
	seqLess                   // outputSeq 0: the 1.01 layout, no replay possible
)

// resumeState is the runner's 1.02 state.
type resumeState struct {
	opts ResumeOptions

	// Written under runner.wmu.
	live       bool   // frames may go out now; false while reconnecting and until the gateway resyncs
	closeSent  bool   // a Close went out: send it again after a resume
	gen        uint32 // the connection's number, from 1; queued frames remember where they went
	fatal      error  // set by the run loop: the session cannot resume
	inSeq      atomic.Uint32
	outSeq     atomic.Uint32 // the last Output accepted (the reader writes it)
	sinceAck   atomic.Int64  // output bytes accepted since a frame last carried outSeq
	mode       atomic.Int32  // seqMode
	resyncing  atomic.Bool   // reconnected, and the gateway has not said where to resume yet
	needResize atomic.Bool   // send the size again at the next Opened or Output

	q inputQueue

	idMu   sync.Mutex
	chanID string

	pmu  sync.Mutex
	pend pending
	kick chan struct{} // reader → run loop: pend has work

	reopened chan struct{} // reader → resizeLoop: send the size again

	// Reader only.
	gapAsked bool

	// Run loop only.
	failures   int // redials since the last resync
	reconnects int
	sawOutput  bool // set by the reader before the first delivery, read by the run loop after the reader ended
	syncTimer  *time.Timer
}

// pending is what the reader asks the run loop to send: the reader never writes, so a slow or
// blocked write can never stop it from reading (which could deadlock against a gateway that is
// itself blocked writing to us).
type pending struct {
	sync     bool   // ask for a replay (a gap in the output)
	ack      bool   // acknowledge output with a heartbeat
	resend   bool   // resend queued frames from seq from
	from     uint32 //
	resynced bool   // the gateway answered after a reconnect
}

func (s *runner) initResume(o ResumeOptions) {
	if o.Attempts <= 0 {
		o.Attempts = DefaultResumeAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 4 * time.Second
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 8 << 20
	}
	if o.AckEvery <= 0 {
		o.AckEvery = 256 << 10
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 10 * time.Second
	}
	if o.AckWait <= 0 {
		o.AckWait = 3 * time.Second
	}
	s.r = &resumeState{opts: o, live: true, gen: 1, kick: make(chan struct{}, 1), reopened: make(chan struct{}, 1)}
	s.r.q.init(o.QueueLimit, o.AckWait)
	s.v102.Store(true)
}

func (r *resumeState) status(msg string) {
	if r.opts.OnStatus != nil {
		r.opts.OnStatus(msg)
	}
}

func (r *resumeState) channelID() string {
	r.idMu.Lock()
	defer r.idMu.Unlock()
	return r.chanID
}

// arrived learns the channel id from the first server frame that has one (docs/protocol.md,
// Reconnecting), and refuses a reconnected connection that names another channel.
func (r *resumeState) arrived(f *Frame) error {
	if len(f.ChannelID) == 0 {
		return nil
	}
	r.idMu.Lock()
	defer r.idMu.Unlock()
	switch {
	case r.chanID == "":
		r.chanID = string(f.ChannelID)
	case r.reconnectsSeen() && r.chanID != string(f.ChannelID):
		return fmt.Errorf("%w: %w (%s)", ErrConnectionLost, errNewChannel, r.chanID)
	}
	return nil
}

// reconnectsSeen is read by the reader; reconnects is written by the run loop before it starts
// the reader of the new connection, so the reader sees its value.
func (r *resumeState) reconnectsSeen() bool { return r.reconnects > 0 }

func (r *resumeState) request(f func(*pending)) {
	r.pmu.Lock()
	f(&r.pend)
	r.pmu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// ackInput trims the queue by a gateway's cumulative acknowledgement. A value beyond what was
// sent is nonsense and is ignored.
func (r *resumeState) ackInput(n uint32) {
	if n == 0 || n > r.inSeq.Load() {
		return
	}
	r.q.ackThrough(n)
}

// outputArrived applies the acknowledgement rules (docs/protocol.md, Sequence numbers and
// resume) to an Output and reports whether to deliver it.
func (s *runner) outputArrived(f *Frame) bool {
	r := s.r
	r.sawOutput = true
	switch seqMode(r.mode.Load()) {
	case seqUnknown:
		if f.OutputSeq == 0 {
			s.log.Debug("the gateway does not number its output; resume is off for this session")
			r.mode.Store(int32(seqLess))
			r.q.disable()
			return true
		}
		r.mode.Store(int32(seqFul))
		r.outSeq.Store(f.OutputSeq)
		r.ackInput(f.InputSeq)
		return true
	case seqLess:
		return true
	}
	if f.OutputSeq == 0 {
		s.log.Debug("output without a seq from a gateway that numbers its output; delivered")
		return true
	}
	last := r.outSeq.Load()
	switch {
	case f.OutputSeq == last+1:
		r.gapAsked = false
		r.outSeq.Store(f.OutputSeq)
		r.ackInput(f.InputSeq)
		return true
	case f.OutputSeq > last+1:
		if !r.gapAsked {
			r.gapAsked = true
			s.log.Debug("gap in the output; asking for a replay", "have", last, "got", f.OutputSeq)
			r.request(func(p *pending) { p.sync = true })
		}
		return false
	default:
		r.ackInput(f.InputSeq)
		return false
	}
}

// outputDelivered counts output towards the next acknowledgement and ends a resync.
func (s *runner) outputDelivered(n int) {
	r := s.r
	if seqMode(r.mode.Load()) == seqFul && r.sinceAck.Add(int64(n)) >= int64(r.opts.AckEvery) {
		r.request(func(p *pending) { p.ack = true })
	}
	s.opened()
}

// opened handles an Opened status or an Output: after a reconnect, the gateway is back.
func (s *runner) opened() {
	r := s.r
	if r.resyncing.Load() {
		r.request(func(p *pending) { p.resynced = true })
	}
	if r.needResize.Swap(false) {
		select {
		case r.reopened <- struct{}{}:
		default:
		}
	}
}

// syncArrived handles the gateway's Sync: resend from the first input it wants.
func (s *runner) syncArrived(f *Frame) {
	r := s.r
	if seqMode(r.mode.Load()) == seqLess {
		return
	}
	if f.InputSeq > 0 {
		r.ackInput(f.InputSeq - 1)
	}
	from := f.InputSeq
	s.log.Debug("gateway sync", "next input", from, "its output", f.OutputSeq)
	r.request(func(p *pending) {
		if !p.resend || from < p.from {
			p.from = from
		}
		p.resend = true
		p.resynced = p.resynced || r.resyncing.Load()
	})
}

// pending sends what the reader asked for. It runs on the run loop.
func (s *runner) pending() {
	r := s.r
	r.pmu.Lock()
	p := r.pend
	r.pend = pending{}
	r.pmu.Unlock()
	if !s.v102.Load() {
		return
	}
	if p.resend || p.resynced {
		s.resend(p.from, p.resend, p.resynced)
	}
	if p.sync {
		_ = s.send(TypeSync, nil)
	}
	if p.ack && r.sinceAck.Load() >= int64(r.opts.AckEvery) {
		_ = s.send(TypeInput, nil) // a heartbeat carries outputSeq
	}
}

// syncWait is the resync timer's channel, nil when none runs.
func (s *runner) syncWait() <-chan time.Time {
	if s.r == nil || s.r.syncTimer == nil {
		return nil
	}
	return s.r.syncTimer.C
}

// syncTimedOut stops holding input for a gateway that never said where to resume.
func (s *runner) syncTimedOut() {
	s.r.syncTimer = nil
	if s.r.resyncing.Load() {
		s.log.Debug("no word from the gateway after reconnecting; resending all unacknowledged input")
		s.resend(0, false, true)
	}
}
