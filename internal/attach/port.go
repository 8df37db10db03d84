package attach

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/pkg/forward"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// Port sessions for forwards and ProxyCommand. One StartTerminalSession URL serves any number of
// WebSocket connections, each its own agent channel (docs/protocol.md, Port forwarding), so Ports keeps one
// session per (TargetServer, PortNumber) and dials it for every connection while the URL is young,
// then mints a fresh one: the URL lives 10 minutes, and whether an old URL still admits new
// connections is unknown, so ecsterm never relies on it. Sessions past that age are ended
// (EndTerminalSession) once their last connection closes, and all of them on Close.

// DefaultReuse is how long a session's URL is used for new connections: a minute short of the
// URL's documented 10-minute life, so a dial never races the expiry.
const DefaultReuse = 9 * time.Minute

// queuingAgent is the last agent version known to drop input that arrives before its TCP
// connection to the target is up (AGT-578); later agents wait up to 10 s for it.
var queuingAgent = []int{2, 2, 3, 578}

// earlyInputHold is how long input waits for the first output on agents that drop early input.
// Agent 2.2.3.578 sleeps a second after its channel opens before it dials the target, and the
// gateway's share of the start comes on top, so a one-second hold raced it and lost a client's
// first request (HTTP) on a slow start. It is the official client's fixed 3 s, but cut short by
// the first byte of a server that speaks first (SSH), so only client-first protocols wait it out.
const earlyInputHold = 3 * time.Second

// Ports opens port sessions on one instance; its Open is a forward.Opener. Attacher.Ports makes
// it.
type Ports struct {
	a   *Attacher
	o   PortOptions
	log *slog.Logger

	pre    chan struct{} // closed when preflight is done
	inst   *cloud.Instance
	preErr error

	mu       sync.Mutex
	live     map[portKey]*portSession // the session new connections to a key use
	all      map[*portSession]struct{}
	closed   bool
	starting sync.WaitGroup // StartTerminalSession calls in flight, until their session is kept or ended
	ending   sync.WaitGroup // EndTerminalSession calls in flight
}

type portKey struct {
	host string
	port int
}

// portSession is one StartTerminalSession result and the connections using it.
type portSession struct {
	key     portKey
	ready   chan struct{} // closed once sess or err is set
	sess    *cloud.Session
	err     error
	created time.Time
	conns   int
	retired bool // no new connections; end when the last one closes
	ended   bool
	timer   *time.Timer // ends the session at the reuse age if it is idle then
}

// LimitError reports a session the service refused for a limit on sessions: one line a user can
// act on, and forward.ErrRefused so a SOCKS client hears "connection refused".
type LimitError struct {
	Region bool // the region's limit; otherwise the instance's connected sessions
	Err    error
}

func (e *LimitError) Error() string {
	if e.Region {
		return "connection refused: the region has reached its limit of sessions; end others or wait for them to expire"
	}
	return "connection refused: the instance has reached its limit of connected sessions; close another session or connection and retry"
}

func (e *LimitError) Unwrap() []error { return []error{e.Err, forward.ErrRefused} }

// Ports starts preflight for the instance in the background and returns at once: Ready waits
// for it, and the first Open overlaps it with StartTerminalSession and the dial. Close it when
// done.
func (a *Attacher) Ports(ctx context.Context, o PortOptions) PortOpener { return a.newPorts(ctx, o) }

func (a *Attacher) newPorts(ctx context.Context, o PortOptions) *Ports {
	if o.Reuse <= 0 {
		o.Reuse = DefaultReuse
	}
	p := &Ports{a: a, o: o, log: a.log, pre: make(chan struct{}), live: map[portKey]*portSession{}, all: map[*portSession]struct{}{}}
	go func() {
		defer close(p.pre)
		p.inst, p.preErr = a.api.Preflight(ctx, o.InstanceID)
		a.timing.Mark("preflight")
	}()
	return p
}

// Ready waits for preflight and returns the instance, or why it cannot take a session.
func (p *Ports) Ready(ctx context.Context) (*cloud.Instance, error) {
	select {
	case <-p.pre:
		return p.inst, p.preErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// HoldFor is how long input waits for the first output on an agent of this version: nothing for
// agents that wait for their connection to the target, earlyInputHold for older or unknown ones.
func HoldFor(inst *cloud.Instance) time.Duration {
	if inst != nil && !inst.Windows() && cloud.VersionAfter(inst.AgentVersion, queuingAgent) {
		return 0
	}
	return earlyInputHold
}

// PortKeepAlive is what a port channel sends to keep itself alive while quiet: nothing, on
// every agent. Agents up to 2.2.3.578 route every frame, an empty keep-alive included, to the
// port plugin, which re-dials a target that has closed: a keep-alive would open a connection to
// the server that nobody asked for, every interval, for as long as the local peer stays. The
// newest public agent ends the channel when its target closes instead, but the version that
// changed it is not known, so ecsterm sends none there either. A quiet forwarded connection
// therefore ends at the agent's idle limit (180 s) unless its own protocol sends data, as ssh
// does with ServerAliveInterval. See docs/protocol.md, Port forwarding.
func PortKeepAlive(*cloud.Instance) time.Duration { return -1 }

// Port channels never resume: they speak schema 1.01 on every agent. A 1.02 client acknowledges
// output with an empty Input frame every 256 KiB, and an agent that re-dials a closed target on
// input (2.2.3.578 and some later versions; which ones is not known) re-dials it for that frame
// as for a keep-alive: a download that ends with the server's close was fetched twice or three
// times (the e2e test). 1.01 sends no frame of its own, so a dropped WebSocket ends the
// connection instead, as with Alibaba's client. See docs/protocol.md, Port forwarding.

// Open opens a port session to port on host (empty: the instance itself). It is a forward.Opener.
func (p *Ports) Open(ctx context.Context, host string, port int) (*forward.Stream, error) {
	start := time.Now()
	key := portKey{host, port}
	for attempt := 1; ; attempt++ {
		ps, err := p.acquire(ctx, key)
		if err != nil {
			return nil, p.explain(ctx, err)
		}
		conn, err := session.Dial(ctx, ps.sess.URL, session.DialOptions{Token: ps.sess.Token})
		if err == nil {
			p.a.timing.Mark("WebSocket open")
		}
		if err != nil {
			p.release(ps)
			if le := asLimit(err); le != nil {
				p.log.Debug("session refused", "session", ps.sess.ID, "err", err)
				return nil, le
			}
			if attempt == 1 && ps.created.Before(start) && ctx.Err() == nil {
				// A URL used before may have expired early or been ended: mint another, once.
				p.log.Debug("reused session URL refused; starting a new session", "session", ps.sess.ID, "err", err)
				p.retire(ps)
				continue
			}
			return nil, p.explain(ctx, err)
		}
		inst, err := p.Ready(ctx)
		if err != nil {
			conn.Close()
			p.release(ps)
			return nil, err
		}
		return &forward.Stream{Conn: conn, HoldInput: HoldFor(inst), KeepAlive: PortKeepAlive(inst), Release: sync.OnceFunc(func() { p.release(ps) })}, nil
	}
}

// explain prefers preflight's reason to the API's or the gateway's: it says what to do.
func (p *Ports) explain(ctx context.Context, err error) error {
	if _, perr := p.Ready(ctx); perr != nil && ctx.Err() == nil {
		return perr
	}
	if le := asLimit(err); le != nil {
		return le
	}
	return err
}

// acquire returns the session for key with a connection counted on it, starting one if there is
// none young enough. Concurrent callers for the same key share one StartTerminalSession call.
func (p *Ports) acquire(ctx context.Context, key portKey) (*portSession, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errShuttingDown
	}
	ps := p.live[key]
	if ps != nil && ps.sess != nil && time.Since(ps.created) >= p.o.Reuse {
		p.retireLocked(ps)
		ps = nil
	}
	if ps != nil {
		ps.conns++
		p.mu.Unlock()
		select {
		case <-ps.ready:
		case <-ctx.Done():
			p.release(ps)
			return nil, ctx.Err()
		}
		if ps.err != nil {
			p.release(ps)
			return nil, ps.err
		}
		return ps, nil
	}
	ps = &portSession{key: key, ready: make(chan struct{}), conns: 1}
	p.live[key] = ps
	p.starting.Add(1)
	p.mu.Unlock()
	defer p.starting.Done()

	// The service may start the session whatever becomes of its answer, so an interrupt does
	// not abandon the call: its answer names the session to end (the call is bounded by the
	// client's own timeouts and retries; a second signal exits at once). A cancelled caller
	// then fails its dial and leaves the session idle, for Close to end.
	sess, err := p.a.api.StartSession(context.WithoutCancel(ctx), cloud.StartOptions{InstanceID: p.o.InstanceID, PortNumber: key.port, Target: key.host})
	if err == nil {
		p.a.timing.Mark("StartTerminalSession")
	}
	p.mu.Lock()
	ps.sess, ps.err, ps.created = sess, err, time.Now()
	closed := err == nil && p.closed
	switch {
	case err != nil:
		if p.live[key] == ps {
			delete(p.live, key)
		}
	case closed:
		// Close ran while the call was in flight and has already ended the sessions it knew:
		// this one is ended here, before Close's wait for starting calls returns.
		p.log.Debug("port session started after Close; ending it", "session", sess.ID)
		ps.err = errShuttingDown
		p.endLocked(ps)
	default:
		p.all[ps] = struct{}{}
		p.log.Debug("port session started", "session", sess.ID, "host", key.host, "port", key.port)
	}
	close(ps.ready)
	p.mu.Unlock()
	if closed {
		p.end(ps)
	}
	if ps.err != nil {
		p.release(ps)
		return nil, ps.err
	}
	return ps, nil
}

// errShuttingDown is Open's answer once Close has been called.
var errShuttingDown = errors.New("shutting down")

// release gives back one connection's hold on ps, and ends ps if it was its last and ps is
// retired, past its reuse age, or Ports is closed.
func (p *Ports) release(ps *portSession) {
	p.mu.Lock()
	ps.conns--
	if ps.conns > 0 || ps.sess == nil || ps.ended {
		p.mu.Unlock()
		return
	}
	age := time.Since(ps.created)
	if ps.retired || p.closed || age >= p.o.Reuse {
		p.endLocked(ps)
		p.mu.Unlock()
		p.end(ps)
		return
	}
	if ps.timer == nil {
		ps.timer = time.AfterFunc(p.o.Reuse-age, func() { p.expire(ps) })
	}
	p.mu.Unlock()
}

// expire ends ps at its reuse age if no connection uses it; otherwise the last release does.
func (p *Ports) expire(ps *portSession) {
	p.mu.Lock()
	ps.timer = nil
	if ps.conns > 0 || ps.ended {
		p.mu.Unlock()
		return
	}
	p.endLocked(ps)
	p.mu.Unlock()
	p.end(ps)
}

// retire stops new connections from using ps.
func (p *Ports) retire(ps *portSession) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retireLocked(ps)
}

func (p *Ports) retireLocked(ps *portSession) {
	if p.live[ps.key] == ps {
		delete(p.live, ps.key)
	}
	ps.retired = true
	if ps.conns == 0 && ps.sess != nil && !ps.ended {
		p.endLocked(ps)
		go p.end(ps)
	}
}

// endLocked marks ps ended and counts the EndTerminalSession call that the caller makes next.
func (p *Ports) endLocked(ps *portSession) {
	ps.ended = true
	if ps.timer != nil {
		ps.timer.Stop()
		ps.timer = nil
	}
	if p.live[ps.key] == ps {
		delete(p.live, ps.key)
	}
	delete(p.all, ps)
	p.ending.Add(1)
}

func (p *Ports) end(ps *portSession) {
	defer p.ending.Done()
	if err := p.a.api.EndSession(ps.sess.ID); err != nil {
		p.log.Debug("EndTerminalSession failed", "session", ps.sess.ID, "err", err)
	} else {
		p.log.Debug("port session ended", "session", ps.sess.ID)
	}
}

// Close ends every session that no connection uses (the rest end with their last connection)
// and waits for the EndTerminalSession calls, and for StartTerminalSession calls in flight: a
// session started after Close is ended at once.
func (p *Ports) Close() {
	p.mu.Lock()
	p.closed = true
	var idle []*portSession
	for ps := range p.all {
		if ps.conns == 0 && !ps.ended {
			p.endLocked(ps)
			idle = append(idle, ps)
		}
	}
	p.mu.Unlock()
	for _, ps := range idle {
		go p.end(ps)
	}
	// Every ending.Add of a starting call happens before its starting.Done.
	p.starting.Wait()
	p.ending.Wait()
}

// asLimit recognises the service's refusals for session limits, from StartTerminalSession or
// from the gateway (cloud.QuotaOf knows the codes).
func asLimit(err error) *LimitError {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	switch cloud.QuotaOf(err) {
	case cloud.InstanceQuota:
		return &LimitError{Err: err}
	case cloud.RegionQuota:
		return &LimitError{Region: true, Err: err}
	}
	return nil
}
