package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Size is a terminal size for resize frames. It mirrors term.Size so that this package and the
// terminal package stay independent of each other.
type Size struct{ Rows, Cols uint16 }

// EOFAction says what to do when Stdin ends.
type EOFAction int

// What a session sends when its input ends.
const (
	// EOFCtrlD sends 0x04, as the official client does in interactive mode: a shell in the remote
	// PTY sees end of input at the start of a line. Unlike the official client, it waits until
	// the output has been quiet for a moment (the shell is at its prompt) and sends it again if
	// the shell answers with more output but the session goes on (sendEOF).
	EOFCtrlD EOFAction = iota
	// EOFClose sends Close ("1"), as the official client does for port sessions: the agent then
	// ends the channel.
	EOFClose
	// EOFNothing stops sending input and keeps the session open.
	EOFNothing
)

// DefaultKeepAlive is the keep-alive interval: at most 50 s whatever the schema, well inside the
// agent's 180 s idle limit (docs/protocol.md, Keep-alive and timeouts).
const DefaultKeepAlive = 50 * time.Second

// MaxInputChunk is the most input one frame carries: the console client's 1024 bytes, which also
// fits the 1.01 client's 2048 (docs/protocol.md, Payloads: Input and Output).
const MaxInputChunk = 1024

// Options configure one session run.
type Options struct {
	Stdin     io.Reader     // input for the remote side; nil for none
	Stdout    io.Writer     // where output goes
	Sizes     <-chan Size   // window sizes, first then changes; nil for sessions without a terminal
	OnEOF     EOFAction     // what to send when Stdin ends
	KeepAlive time.Duration // zero means DefaultKeepAlive; negative sends none (docs/protocol.md, Port forwarding)
	Logger    *slog.Logger  // nil means discard
	// WriteTimeout bounds each WebSocket write; zero means 60 s.
	WriteTimeout time.Duration
	// IdleTimeout ends the session, with ErrIdle, after this long without input or output
	// (keep-alives do not count). Zero means never: keep-alives hold a quiet session open.
	IdleTimeout time.Duration
	// HoldInput keeps input back until the first Output frame arrives, or until this long has
	// passed. Agents drop input that arrives before their PTY or TCP connection exists
	// (docs/protocol.md, Flows), and a shell's first output (its prompt) says it is there. Zero
	// sends input at once.
	HoldInput time.Duration
	// Resume, when set, speaks schema 1.02 and survives a dropped WebSocket: it reconnects to the
	// same channel with &channelId=, has the gateway replay the output it missed and resends the
	// input the gateway had not acknowledged (docs/protocol.md, Sequence numbers and resume;
	// conn102.go). Nil speaks 1.01, where a drop ends the session.
	Resume *ResumeOptions
	// OnPaced is told, once, when input has waited a second in all for the bandwidth the gateway
	// set with a Stream status (bits per second): a transfer has met the service's ceiling,
	// which a user should hear about rather than take for a slow network.
	OnPaced func(bitsPerSecond uint64)
	// Silence bounds the wait for the gateway's first frame (silence.go). Nil waits for ever,
	// as port sessions must.
	Silence *SilenceOptions
}

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
	// AckWait bounds that wait: past it the oldest frames are let go (see the package comment,
	// Resume), and a resume that needs them fails instead. Default 3 s.
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

// DefaultResumeAttempts is ResumeOptions.Attempts when zero.
const DefaultResumeAttempts = 8

func (o *ResumeOptions) defaults() {
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
}

// ErrIdle is wrapped by the error Run returns when Options.IdleTimeout ended the session.
var ErrIdle = errors.New("session idle")

// ErrConnectionLost is wrapped by errors for a WebSocket that broke without a close from the service.
var ErrConnectionLost = errors.New("connection to the session gateway lost")

// Run pumps a session over conn until the service ends it, the connection breaks or ctx is done.
// It returns nil when the remote side ended normally (Closed/Exited "Exit", or a normal WebSocket
// close), a *ClosedError for any other close, an error wrapping ErrConnectionLost for a broken
// connection, and ctx's error after a Close frame when ctx ends first. Run closes conn. A
// goroutine blocked reading Stdin is left behind; callers that need it gone close Stdin.
//
// With Options.Resume, a connection that breaks (or a gateway that restarts or freezes the
// channel) is not the end: Run reconnects and carries on, and returns an error wrapping
// ErrConnectionLost only once it has given up.
func Run(ctx context.Context, conn *websocket.Conn, opts Options) error {
	s := &runner{
		opts:     opts,
		log:      opts.Logger,
		firstOut: make(chan struct{}),
		heard:    make(chan struct{}),
		outKick:  make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.pace.onDelay = opts.OnPaced
	if s.opts.KeepAlive == 0 {
		s.opts.KeepAlive = DefaultKeepAlive
	}
	if s.opts.WriteTimeout <= 0 {
		s.opts.WriteTimeout = 60 * time.Second
	}
	if rs := opts.Resume; rs != nil && rs.Redial != nil {
		s.t = newConn102(ctx, conn, *rs, s.opts.WriteTimeout, s.log)
	} else {
		s.t = newConn101(conn, s.opts.WriteTimeout, s.log)
	}
	return s.run(ctx)
}

// runner is the session loop: it pumps input, sizes and keep-alives into its transport, output
// from it into Stdout, and ends the session. It never knows which schema the transport speaks.
type runner struct {
	opts Options
	log  *slog.Logger
	t    transport

	usedAt   atomic.Int64 // unix nanos of the last input or output that was not a keep-alive
	pace     pacer
	sentIn   atomic.Int64  // input payload bytes sent, for the debug log's summary
	gotOut   atomic.Int64  // output payload bytes delivered to Stdout, likewise
	firstOut chan struct{} // closed at the first output frame
	heard    chan struct{} // closed at the first frame of any kind
	hearOnce sync.Once
	outKick  chan struct{} // poked (never blocking) by every output frame
	done     chan struct{} // closed when run returns
}

// closeNow tells the agent to end the channel, closes the transport, and returns err once the
// reader has stopped.
func (s *runner) closeNow(readErr <-chan error, err error) error {
	_ = s.t.send(TypeClose, []byte("1"))
	s.t.close()
	<-readErr
	return err
}

func (s *runner) run(ctx context.Context) (err error) {
	start := time.Now()
	defer func() {
		// What moved and how fast, so a slow transfer can be told from a throttled one:
		// --debug shows it.
		took := time.Since(start)
		s.log.Debug("session ended", "err", err, "took", took.Round(time.Millisecond).String(),
			"input_bytes", s.sentIn.Load(), "output_bytes", s.gotOut.Load(),
			"input_KiB_per_s", int64(float64(s.sentIn.Load())/1024/max(took.Seconds(), 1e-3)),
			"output_KiB_per_s", int64(float64(s.gotOut.Load())/1024/max(took.Seconds(), 1e-3)),
			"stream_rate_bps", s.pace.rate())
	}()
	defer func() {
		close(s.done)
		s.t.close() // senders waiting for room in a queue give up
	}()
	readErr := make(chan error, 1)
	go func() { readErr <- s.readLoop() }()
	if s.opts.Stdin != nil {
		// Input held by the pacer must end with the session, not only with the caller's ctx.
		ictx, stop := context.WithCancel(ctx)
		defer stop()
		go s.inputLoop(ictx)
	}
	if s.opts.Sizes != nil {
		go s.resizeLoop()
	}
	var keepC <-chan time.Time
	if s.opts.KeepAlive > 0 {
		keep := time.NewTicker(s.opts.KeepAlive)
		defer keep.Stop()
		keepC = keep.C
	}
	s.usedAt.Store(time.Now().UnixNano())
	var (
		idle  <-chan time.Time
		idleT *time.Timer
	)
	if s.opts.IdleTimeout > 0 {
		idleT = time.NewTimer(s.opts.IdleTimeout)
		defer idleT.Stop()
		idle = idleT.C
	}
	quiet := newSilence(s.opts.Silence, s.heard)
	defer quiet.stop()
	for {
		select {
		case <-quiet.heard:
			quiet.stop()
		case <-quiet.noticeC():
			quiet.tell()
		case <-quiet.limitC():
			return s.closeNow(readErr, quiet.giveUp())
		case err := <-readErr:
			return err
		case <-ctx.Done():
			return s.closeNow(readErr, ctx.Err())
		case <-idle:
			quiet := time.Since(time.Unix(0, s.usedAt.Load()))
			if quiet >= s.opts.IdleTimeout {
				return s.closeNow(readErr, fmt.Errorf("%w: no input or output for %s", ErrIdle, s.opts.IdleTimeout))
			}
			idleT.Reset(s.opts.IdleTimeout - quiet)
		case <-keepC:
			if time.Since(s.t.lastSent()) >= s.opts.KeepAlive/2 {
				if err := s.t.send(TypeInput, nil); err != nil {
					s.log.Debug("keep-alive failed", "err", err)
				}
			}
		}
	}
}

// readLoop delivers what the transport receives until the session ends.
func (s *runner) readLoop() error {
	for {
		in, err := s.t.recv()
		if errors.Is(err, errEnded) {
			return nil
		}
		if err != nil {
			return err
		}
		s.hearOnce.Do(func() { close(s.heard) })
		switch in.f.Type {
		case TypeOutput:
			select {
			case <-s.firstOut:
			default:
				close(s.firstOut)
			}
			s.usedAt.Store(time.Now().UnixNano())
			select { // for sendEOF, which waits for the output to pause
			case s.outKick <- struct{}{}:
			default:
			}
			if _, err := s.opts.Stdout.Write(in.f.Payload); err != nil {
				return fmt.Errorf("writing output: %w", err)
			}
			s.gotOut.Add(int64(len(in.f.Payload)))
		case TypeStatus:
			// Statuses that end the session come as errors; Stream's zero rate is "no limit
			// given" and is ignored (docs/protocol.md, Payloads).
			if in.st.State == StateStream && in.st.Rate > 0 {
				s.pace.setRate(in.st.Rate)
			}
		case TypeSync: // the resumable transport's business (conn102.go)
		default:
			s.log.Debug("ignoring frame", "type", in.f.Type.String(), "len", len(in.f.Payload))
		}
	}
}
