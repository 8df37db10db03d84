package attach

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ecsterm/ecsterm/internal/cloud"
	"github.com/ecsterm/ecsterm/internal/timing"
	"github.com/ecsterm/ecsterm/pkg/forward"
)

// API is what sessions need of the cloud client; *cloud.Client has it. It is declared here,
// where it is used, so that tests hand attach a fake service.
type API interface {
	Preflight(ctx context.Context, instanceID string) (*cloud.Instance, error)
	StartSession(ctx context.Context, o cloud.StartOptions) (*cloud.Session, error)
	EndSession(sessionID string) error
}

// Config is what every session of one process shares.
type Config struct {
	API    API
	Logger *slog.Logger // nil discards
	// Timing, if set, is told when each step of opening a session happens (--timing).
	Timing *timing.Recorder
}

// Attacher opens the three kinds of session a command needs: a shell, an exec exchange and
// port channels. internal/cmdutil's Sessions is the interface commands see; Attacher is the real
// one, built once per process by the Factory.
type Attacher struct {
	api    API
	log    *slog.Logger
	timing *timing.Recorder
}

// New returns an Attacher for c.
func New(c Config) *Attacher {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Attacher{api: c.API, log: log, timing: c.Timing}
}

// Target is the instance and the user a session logs in as (empty: the service's default).
type Target struct {
	InstanceID string
	Username   string
}

// Terminal is the local terminal a session may take over: when In is a terminal it goes raw for
// the session, and the window size of Out follows the session.
type Terminal struct {
	In  *os.File
	Out *os.File
	// SetRaw is told when the terminal enters and leaves raw mode (so logs can adapt).
	SetRaw func(bool)
	// Escape is the escape character for ~. and friends on a raw terminal (0: '~'); NoEscape
	// turns escapes off.
	Escape   byte
	NoEscape bool
}

// Streams are a session's standard streams. Stdin may be the terminal's In.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Reporting says where a session's notices go.
type Reporting struct {
	// StatusOut is where the one-line reconnect status and the limit warnings go; nil leaves
	// them to the debug log.
	StatusOut io.Writer
	// OnPaced is told when the service's bandwidth limit first holds this session's input back
	// (PacedNotice makes one). Nil says nothing.
	OnPaced func(bitsPerSecond uint64)
}

// ShellOptions describe an interactive session: a login shell, or CommandLine instead.
type ShellOptions struct {
	Target
	Streams
	Terminal
	Reporting
	CommandLine string
	// IdleTimeout ends the session after this long without input or output.
	IdleTimeout time.Duration
	// NoResume keeps the session to schema 1.01: a dropped connection ends it. By default it
	// speaks 1.02 and reconnects (resumeoptions.go).
	NoResume bool
	// ListForwards returns what ~# shows (lines ending in \r\n): the session's forwarded
	// ports and connections. Nil means the session forwards nothing.
	ListForwards func() string
	// Command runs a line typed after ~C and returns what to show (lines ending in \r\n). Nil
	// means the session takes no commands.
	Command func(line string) string
	// Recording, when set, records the session as an asciicast file (record.go).
	Recording *Recording
}

// ExecOptions describe one remote command run through the exec exchange (pkg/rexec).
type ExecOptions struct {
	Target
	Streams
	Reporting
	Command string
	// TTY runs the command on a remote terminal (ssh -t); Terminal is then the local one, which
	// goes raw, and Recording (if set) records the session.
	TTY bool
	Terminal
	Recording *Recording
	NoResume  bool
}

// PortOptions describe the instance whose ports are reached.
type PortOptions struct {
	InstanceID string
	// Reuse is how long a session's URL serves new connections; zero means DefaultReuse.
	Reuse time.Duration
}

// PortOpener opens port channels on one instance (a forward.Opener), says whether the instance
// can take them, and ends every session it started on Close.
type PortOpener interface {
	Open(ctx context.Context, host string, port int) (*forward.Stream, error)
	Ready(ctx context.Context) (*cloud.Instance, error)
	Close()
}
