// Package persist keeps warm sessions for `exec --persist` and `cp --persist`, as OpenSSH's
// ControlMaster and ControlPersist keep a connection: the first command for an instance and
// user starts a holder (a detached `ecsterm persist serve`) that holds sessions whose remote
// side runs one command after another (rexec.Warm), and later commands hand theirs to it over
// a Unix socket private to the user. The holder ends after a while without a command, when its
// credentials fail, or on `ecsterm persist stop`, and ends every session it opened.
package persist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ecsterm/ecsterm/pkg/rexec"
	"github.com/ecsterm/ecsterm/pkg/session"
)

// Warm is one warm session's remote side (rexec.Warm): Input and Output are the session's
// stdin and stdout; Run runs one command at a time.
type Warm interface {
	Input() io.Reader
	Output() io.Writer
	Ready(ctx context.Context) error
	Run(ctx context.Context, req rexec.Request) (int, error)
	Broken() <-chan struct{}
	Close()
}

// Channel is one open session on the instance: Run carries it until it ends, End calls
// EndTerminalSession.
type Channel interface {
	Run(ctx context.Context, o session.Options) error
	End()
}

// DefaultMax is how many warm sessions a holder keeps at most: well below the service's
// connected sessions per instance (10 on the API page, 20 in newer docs), so that the user's
// shells, forwards and cold commands on the same instance still fit.
const DefaultMax = 4

// Config is what a holder needs.
type Config struct {
	Key Key
	// Idle is how long the holder stays without a command.
	Idle time.Duration
	// Max is the most warm sessions at once; 0 means DefaultMax.
	Max int
	// MaxAge is how long a warm session serves before it is replaced; 0 means DefaultMaxAge.
	MaxAge time.Duration
	// Open starts a session running commandLine on the instance (preflight, StartTerminalSession,
	// WebSocket).
	Open func(ctx context.Context, commandLine string) (Channel, error)
	// NewWarm makes the remote side of one warm session, and CommandLine is what it runs;
	// nil and "" mean rexec's (rexec.NewWarm, rexec.WarmBootstrap).
	NewWarm     func() (Warm, error)
	CommandLine string
	// Fatal says whether an error from Open means the holder can do nothing more (its
	// credentials failed); nil means none does.
	Fatal  func(error) bool
	Logger *slog.Logger
}

// ErrRunning is returned by Listen when a holder for the key already runs.
var ErrRunning = errors.New("a persist holder for this instance and user already runs")

// errLocked is a lock file another process holds.
var errLocked = errors.New("locked")

// ErrUnsupported is --persist where Unix sockets or their peer's user are not available.
var ErrUnsupported = errors.New("--persist is not supported on this system: it needs Unix domain sockets whose peer user can be checked")

// Holder serves one key's warm sessions on its socket.
type Holder struct {
	cfg     Config
	log     *slog.Logger
	ln      *net.UnixListener
	lock    *os.File
	sock    string
	started time.Time

	ctx      context.Context // ends every session and command
	cancel   context.CancelCauseFunc
	stopOnce sync.Once
	stopped  chan struct{}

	mu       sync.Mutex
	slots    map[*slot]bool
	free     []*slot
	wake     chan struct{} // closed and replaced when a slot frees, opens or dies
	running  int
	waiting  int                           // commands in acquire
	cmds     map[string]context.CancelFunc // running commands by ID, for interrupts
	failures int                           // sessions that failed to open
	openErr  error                         // why the last one failed
	last     time.Time
	openTook time.Duration // how long the last warm session took to open
	wg       sync.WaitGroup
}

// Listen takes the key's lock and listens on its socket in dir (see Dir), replacing a stale
// socket left by a holder that died. It returns ErrRunning if another holder has the lock.
func Listen(dir string, cfg Config) (*Holder, error) {
	if !Supported {
		return nil, ErrUnsupported
	}
	sock, err := socketPath(dir, cfg.Key)
	if err != nil {
		return nil, err
	}
	lock, err := lockFile(lockPath(sock))
	if errors.Is(err, errLocked) {
		return nil, ErrRunning
	}
	if err != nil {
		return nil, fmt.Errorf("locking the persist socket: %w", err)
	}
	// Whoever holds the lock owns the socket's name: one that exists is a dead holder's.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return nil, fmt.Errorf("removing a stale persist socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("persist socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		lock.Close()
		return nil, fmt.Errorf("persist socket: %w", err)
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.NewWarm == nil {
		cfg.NewWarm = func() (Warm, error) { return rexec.NewWarm() }
	}
	if cfg.CommandLine == "" {
		cfg.CommandLine = rexec.WarmBootstrap
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	now := time.Now()
	return &Holder{cfg: cfg, log: log, ln: ln, lock: lock, sock: sock, started: now, last: now,
		ctx: ctx, cancel: cancel, stopped: make(chan struct{}), slots: map[*slot]bool{}, cmds: map[string]context.CancelFunc{}, wake: make(chan struct{})}, nil
}

// Socket is the path the holder listens on.
func (h *Holder) Socket() string { return h.sock }

// Stop ends the holder: Serve returns once every session it opened is ended.
func (h *Holder) Stop(cause error) {
	h.stopOnce.Do(func() {
		h.log.Debug("persist holder stopping", "why", cause)
		h.cancel(cause)
		close(h.stopped)
	})
}

// Serve runs the holder until ctx ends, Stop is called, Config.Idle passes without a command,
// or opening a session fails for good (Config.Fatal). It opens the first warm session at once,
// and before returning ends every session it opened and removes its socket.
func (h *Holder) Serve(ctx context.Context) error {
	defer h.lock.Close()
	go func() {
		select {
		case <-ctx.Done():
			h.Stop(context.Cause(ctx))
		case <-h.stopped:
		}
	}()
	h.mu.Lock()
	h.grow()
	h.mu.Unlock()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := h.ln.AcceptUnix()
			if err != nil {
				return
			}
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				h.serveConn(c)
			}()
		}
	}()
	idle := time.NewTimer(h.cfg.Idle)
	defer idle.Stop()
	for {
		select {
		case <-h.stopped:
		case <-idle.C:
			if left := h.idleLeft(); left > 0 {
				idle.Reset(left)
				continue
			}
			h.Stop(errIdle)
		}
		break
	}
	h.ln.Close() // removes the socket: a client from now on starts another holder
	<-accepted
	h.wg.Wait()
	if err := context.Cause(h.ctx); h.isFatal(err) {
		return err
	}
	return nil
}

// The causes of a holder's ordinary ends: `ecsterm persist stop`, and Config.Idle without a
// command.
var (
	errStopped = errors.New("stopped by ecsterm persist stop")
	errIdle    = errors.New("no command for the idle time")
)

// isFatal says whether err, from Open, means the holder can do nothing more.
func (h *Holder) isFatal(err error) bool { return err != nil && h.cfg.Fatal != nil && h.cfg.Fatal(err) }

// idleLeft is how long the holder still waits for a command; 0 means it has waited enough.
func (h *Holder) idleLeft() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running > 0 {
		return h.cfg.Idle
	}
	return max(0, h.cfg.Idle-time.Since(h.last))
}

// info is this holder's row in `persist ls`.
func (h *Holder) info() Info {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := Info{InstanceID: h.cfg.Key.InstanceID, User: h.cfg.Key.User, Region: h.cfg.Key.Region, Profile: h.cfg.Key.Profile,
		Running: h.running, Waiting: h.waiting, AgeMS: time.Since(h.started).Milliseconds(), PID: os.Getpid()}
	for s := range h.slots {
		if s.w != nil {
			in.Sessions++
		}
	}
	if h.running == 0 {
		in.IdleMS = time.Since(h.last).Milliseconds()
		in.ExitsInMS = max(0, (h.cfg.Idle - time.Since(h.last)).Milliseconds())
	} else {
		in.ExitsInMS = h.cfg.Idle.Milliseconds()
	}
	return in
}
