// Package emulator is a local stand-in for the parts of Alibaba Cloud that ecsterm talks to: the
// ECS OpenAPI (with real signature checks), the session gateway's WebSocket protocol, and a Cloud
// Assistant agent per emulated instance that runs sessions in real PTYs on this machine. It binds
// to loopback only. It is faithful where fidelity tests the client (signatures, error shapes,
// frame layout, an agent as unhelpful as the real one) and documents its choices where the
// reference leaves the real behaviour unknown.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure an Emulator. Zero values take the defaults named on each field.
type Options struct {
	Fleet       *Fleet       // nil: DefaultFleet()
	Credentials []Credential // nil: one random AccessKey pair
	// AgentStartDelay is how long the agent takes to start a session's PTY; input that arrives
	// earlier is dropped, as older agents do. The real agent waits about 1 s. Default 0.
	AgentStartDelay time.Duration
	// AgentTimeout is how long a session to an offline agent waits before the gateway gives up
	// with Closed "AgentTimeout". Default 5 s.
	AgentTimeout time.Duration
	// IdleTimeout ends a session with no inbound frame for this long (the agent's 180 s).
	IdleTimeout time.Duration
	// SessionLimit ends every agent channel this long after it opened, whatever the traffic (the
	// agent's 3 h; agentlife.go). Default 3 h.
	SessionLimit time.Duration
	// AgentPacing paces the agent's output as its defaults do when no Stream rate is set: shell
	// frames every 40 ms, port frames every 83 ms (agentlife.go). Off by default, as if the
	// service's flowLimit for the session were too high to matter, so tests and benchmarks run
	// at loopback speed.
	AgentPacing bool
	// PortCloseEndsChannel ends a port channel of an agent up to 2.2.3.578 with Closed "Exit" when
	// its target closes. Invented: that agent keeps the channel and re-dials the target on the
	// next frame (agentport.go). Off by default.
	PortCloseEndsChannel bool
	// LaterAgentsRedial gives agents later than 2.2.3.578 the re-dial of 2.2.3.578 too, as some
	// later versions of the agent's port.go do (which releases is not known); by default they
	// end the channel when the target closes, as the newest does (agentport.go).
	LaterAgentsRedial bool
	// URLTTL is how long a WebSocketUrl stays valid (10 minutes).
	URLTTL time.Duration
	// SessionsPerInstance and SessionsPerRegion are the connected-session limits (the API page's
	// 10 and 1,000; newer docs say 20 and 100, so both are settable).
	SessionsPerInstance int
	SessionsPerRegion   int
	// StreamRate, in bits per second, makes the gateway send a Stream status with this rate at
	// every channel's open, pace the agent's output to it and end a channel whose input exceeds
	// it with FlowExceedLimit (the real limit is 200 KB/s per session; docs/protocol.md §9.6, §12).
	// Zero: no limit.
	StreamRate int
	// Shell is the program a shell session runs. Default: bash without rc files, so the prompt
	// is the emulator's and not the user's.
	Shell []string
	// Sh, when set, is the program a session runs for a CommandLine whose program is sh or
	// /bin/sh: the model of an instance whose /bin/sh is another shell. Real Alibaba Cloud
	// Linux, CentOS and RHEL images have bash as /bin/sh; give bash's path to run as on them.
	// Default: this machine's sh.
	Sh string
	// Refuse answers every call of an action (the key) with an error code (the value), as an
	// endpoint without that action (InvalidAction.NotFound) or a RAM policy without it
	// (Forbidden.RAM) does. FailNext refuses single calls.
	Refuse map[string]string
	// StateDir holds each instance's home directory. Default: a new temporary directory, removed
	// by Close.
	StateDir string
	Logger   *slog.Logger
	// Now is the clock for signatures and expiry. Default time.Now.
	Now func() time.Time
	// DetachTimeout is how long a schema 1.02 channel whose WebSocket dropped stays alive,
	// output buffered, for the client to resume it with &channelId= (reattach.go). The real value
	// is unknown. Default 60 s.
	DetachTimeout time.Duration
	// ReplayLimit bounds each 1.02 channel's unacknowledged output kept for replay; when full,
	// the agent's output waits. Default 16 MiB.
	ReplayLimit int
	// CutAfterBytes, when positive, cuts each channel's WebSocket once (a TCP close without a
	// close frame) after that many bytes of output payload: a fault injection for resume tests.
	CutAfterBytes int64
	// TLS serves the API as https and the gateway as wss, with a self-signed certificate made
	// at start-up for 127.0.0.1 and localhost (CACertPEM). Default plain http and ws.
	TLS bool
	// TLSNames are more DNS names for that certificate, for tests that route a real host name
	// to the emulator (sts.go: the STS endpoint credentials-go hard-codes).
	TLSNames []string
	// Roles are the RAM role ARNs STS AssumeRole grants (sts.go). Default: DefaultRoleARN.
	Roles []string
	// STSLifetime, when positive, is how long AssumeRole's credentials last whatever
	// DurationSeconds asked for: at 180 s or less credentials-go renews them before every use.
	STSLifetime time.Duration
}

// Emulator is a running emulated region.
type Emulator struct {
	opts     Options
	fleet    *Fleet
	creds    map[string]Credential
	verifier *verifier
	log      *slog.Logger
	ln       net.Listener
	srv      *http.Server
	ownState bool

	cmu      sync.Mutex
	fresh    map[net.Conn]struct{} // connections that have not sent a request yet
	closing  bool                  // Close has begun
	releases []func()              // of Holds: Close lets any held call go on

	mu        sync.Mutex
	sessions  map[string]*termSession
	ended     []endedSession        // sessions EndTerminalSession ended (terminalsessions.go)
	faults    map[string][]string   // action → error codes to answer with, one per call
	calls     map[string]int        // action → calls answered, for tests
	issued    []string              // every session token handed out, for tests
	started   []StartRequest        // every StartTerminalSession accepted, for tests
	installed map[string]bool       // InstallCloudAssistant: agents awaiting a reboot
	inv       *invocationStore      // RunCommand invocations
	wg        sync.WaitGroup        // agent sessions
	down      atomic.Bool           // the gateway refuses WebSockets (SetGatewayDown, reattach.go)
	caPEM     []byte                // the TLS certificate clients must trust; nil for plain
	signers   map[string]signerRuns // action → AccessKey ID of each verified call, for tests
	holds     map[string]*hold      // action → the next call waits (Hold)
	sts       stsStore              // credentials issued by AssumeRole (sts.go)
	dials     sync.Map              // target port → *atomic.Int64: agents' connections to it (agentport.go)
}

// hold makes one call of an action wait: entered is closed when it arrives, and it answers once
// released is closed.
type hold struct {
	entered, released chan struct{}
}

// New starts an emulator on 127.0.0.1 (port 0 picks a free one).
func New(opts Options) (*Emulator, error) {
	return Listen("127.0.0.1:0", opts)
}

// Listen starts an emulator on addr, which must be a loopback address.
func Listen(addr string, opts Options) (*Emulator, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("the emulator listens on loopback only, not %s", host)
	}
	e := &Emulator{opts: opts, sessions: map[string]*termSession{}, faults: map[string][]string{}, calls: map[string]int{}, signers: map[string]signerRuns{}, inv: newInvocationStore()}
	e.applyDefaults()
	if e.opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "ecsterm-emulator-")
		if err != nil {
			return nil, err
		}
		e.opts.StateDir, e.ownState = dir, true
	}
	e.ln, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if opts.TLS {
		ln := e.ln
		if e.ln, e.caPEM, err = tlsListener(ln, e.opts.Now(), e.opts.TLSNames); err != nil {
			ln.Close()
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/session", e.serveSession)
	mux.HandleFunc("/", e.serveAPI)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnState: e.trackConn}
	e.srv.ErrorLog = slog.NewLogLogger(e.log.Handler(), slog.LevelDebug) // not the process's stderr: TLS clients that distrust the certificate are expected
	go func() { _ = e.srv.Serve(e.ln) }()
	return e, nil
}

func (e *Emulator) applyDefaults() {
	o := &e.opts
	if o.Fleet == nil {
		o.Fleet = DefaultFleet()
	}
	e.fleet = o.Fleet
	if len(o.Credentials) == 0 {
		o.Credentials = []Credential{{AccessKeyID: "LTAIemu" + randHex(8), AccessKeySecret: randHex(15)}}
	}
	e.creds = map[string]Credential{}
	for _, c := range o.Credentials {
		e.creds[c.AccessKeyID] = c
	}
	if o.AgentTimeout == 0 {
		o.AgentTimeout = 5 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 180 * time.Second
	}
	if o.URLTTL == 0 {
		o.URLTTL = 10 * time.Minute
	}
	if o.SessionsPerInstance == 0 {
		o.SessionsPerInstance = 10
	}
	if o.SessionsPerRegion == 0 {
		o.SessionsPerRegion = 1000
	}
	if len(o.Shell) == 0 {
		o.Shell = []string{"bash", "--norc", "--noprofile"}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e.log = o.Logger
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if len(o.Roles) == 0 {
		o.Roles = []string{DefaultRoleARN}
	}
	e.verifier = newVerifier(func(id string) (Credential, bool) {
		if c, ok := e.creds[id]; ok {
			return c, true
		}
		return e.sts.lookup(id)
	}, o.Now)
}

// Endpoint is the OpenAPI endpoint URL, for --endpoint or ECSTERM_ENDPOINT.
func (e *Emulator) Endpoint() string { return e.scheme("http") + "://" + e.ln.Addr().String() }

// Region is the emulated region.
func (e *Emulator) Region() string { return e.fleet.Region }

// Credential is the first AccessKey pair the emulator accepts.
func (e *Emulator) Credential() Credential { return e.opts.Credentials[0] }

// Fleet is the emulated fleet.
func (e *Emulator) Fleet() *Fleet { return e.fleet }

// FailNext makes the next n calls of action fail with code (for example InternalError.Dispatch),
// before any other processing, as a fault injection for retry tests.
func (e *Emulator) FailNext(action, code string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.faults[action] = append(e.faults[action], code)
	}
}

// Hold makes the next call of action wait before it is answered, so a test can act while a
// client waits for it: entered is closed when the call arrives, and release (safe to call more
// than once; Close calls it too) lets it go on.
func (e *Emulator) Hold(action string) (entered <-chan struct{}, release func()) {
	h := &hold{entered: make(chan struct{}), released: make(chan struct{})}
	e.mu.Lock()
	if e.holds == nil {
		e.holds = map[string]*hold{}
	}
	e.holds[action] = h
	e.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(h.released) }) }
	e.cmu.Lock()
	e.releases = append(e.releases, release)
	e.cmu.Unlock()
	return h.entered, release
}

// Calls reports how many times action was called (signature-valid calls only).
func (e *Emulator) Calls(action string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[action]
}

// trackConn keeps the set of connections that have not sent a request yet.
func (e *Emulator) trackConn(c net.Conn, st http.ConnState) {
	e.cmu.Lock()
	defer e.cmu.Unlock()
	if st == http.StateNew {
		if e.closing { // accepted while Close runs: Shutdown would wait 5 s for it
			c.Close()
			return
		}
		if e.fresh == nil {
			e.fresh = map[net.Conn]struct{}{}
		}
		e.fresh[c] = struct{}{}
		return
	}
	delete(e.fresh, c)
}

// Close stops the server and every session, and removes the state it created.
func (e *Emulator) Close() error {
	// A client's spare connection that never sent a request would hold Shutdown for the 5 s
	// net/http grants new connections (Go's transport leaves one behind when two requests race
	// to dial); no request is lost by closing those now.
	e.cmu.Lock()
	e.closing = true
	for c := range e.fresh {
		c.Close()
	}
	for _, release := range e.releases {
		release()
	}
	e.cmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	e.inv.close() // after Shutdown: no API call can start another script now
	e.mu.Lock()
	for _, s := range e.sessions {
		s.end("Exit")
	}
	e.mu.Unlock()
	e.wg.Wait()
	if e.ownState {
		_ = os.RemoveAll(e.opts.StateDir)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SessionTokens returns the security token of every session started so far, so that tests can
// check that no output ever contains one.
func (e *Emulator) SessionTokens() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.issued...)
}
