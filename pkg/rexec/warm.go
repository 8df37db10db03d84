package rexec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Warm sessions: one session runs one command after another (ecsterm's --persist), each
// exactly as a cold exec runs it: byte-exact stdin and stdout, stdin's end of file, stderr
// apart, the exit status. Only commands without a terminal run warm.
//
// On the wire (all of it session Input and Output; the service sees a shell session):
//
//  1. CommandLine is WarmBootstrap. It makes the PTY raw and loops: print the ready marker
//     "\x1eecsterm-warm\n", read an eight-digit length, evaluate that many bytes of script in
//     the loop's shell.
//  2. For each command the client waits for the ready marker and sends the length and the
//     script (warmScript): the command, quoted, and a fresh nonce that is never in any
//     process's arguments or environment.
//  3. Then frames, each a letter and eight digits: "d<n>" and n bytes of stdin; "z00000000",
//     stdin's end of file; "i00000000", an interrupt; "e00000000", the end.
//  4. The output is the command's stdout, then the trailer "\x1e<nonce> <status> <n>\n" and n
//     bytes of stderr, as in cold exec. Output cannot forge the trailer: it does not know the
//     nonce.
//  5. Once the trailer and stderr are in, the client sends no more stdin and sends the end
//     frame. The remote decoder reads whole frames up to it, whether or not the command read
//     its stdin (what it did not read goes to /dev/null), so stdin the command never read
//     cannot be taken for the next script. Then the loop prints the ready marker again.
//
// The remote reads the PTY only with head -c of lengths known in advance, never with the
// shell's read builtin: bash, /bin/sh on many distributions, reads a terminal in blocks and
// loses what it read past the line.
//
// An interrupt stops the command's process group (SIGTERM, then SIGKILL after a grace of five
// seconds) and the command ends with a trailer as usual, so the session goes on. The frame is
// in band: if the command does not read its stdin and the client has filled the way to it,
// the frame cannot pass, and after interruptWait without a trailer the Warm is broken (the
// caller ends the session, which stops the command as a cold session's end does).
//
// When the session ends during a command, the remote stops the command and removes its
// directory as the cold script does.
//
// Where warm differs from cold: after an interrupt the SIGKILL goes to the command's process
// group when the grace is over even if the command ended at once, so what it left running in
// its group goes too; between commands, output is nobody's and is dropped, but a process a
// command left behind that writes to the terminal itself (not to its stdout) can still put
// bytes into the next command's stdout; and the remote costs a few processes per command
// (mktemp, mkfifo, head for each frame, rm), about 47 ms a command on a loaded local 2-core
// machine (BenchmarkWarmTrue).

// interruptWait bounds the wait for an interrupted command's trailer: the remote's grace,
// and time for the SIGKILL and the trailer to arrive.
const interruptWait = 20 * time.Second

// resyncWait bounds the wait for the ready marker after the end frame. The remote needs only
// to finish reading stdin frames and remove a directory; a decoder stuck behind a process the
// command left holding its stdin unread would keep the Warm from ever running again.
const resyncWait = 30 * time.Second

// Warm is one warm session's client side. Give Input and Output to session.Run as Stdin and
// Stdout (OnEOF: session.EOFNothing); the session must stay open between commands.
type Warm struct {
	grace         int           // seconds between SIGTERM and SIGKILL on the instance
	interruptWait time.Duration // see interruptWait
	resyncWait    time.Duration // see resyncWait

	inR *io.PipeReader
	inW *io.PipeWriter
	wmu sync.Mutex // one frame at a time into inW

	sem chan struct{} // one Run at a time

	mu     sync.Mutex
	phase  warmPhase
	pre    []byte   // boot: output before the first ready marker; resync: a partial marker
	cur    *command // the command in flight (warmOutput to warmStderr)
	readyc chan struct{}

	// Breaking takes neither mu nor wmu: Close must not wait for a Stdout that blocks, nor for
	// a write the session is not taking.
	emu      sync.Mutex
	err      error // why the Warm is broken
	broken   chan struct{}
	failOnce sync.Once

	booted chan struct{} // the first ready marker arrived
}

type warmPhase int

const (
	warmBoot   warmPhase = iota // waiting for the first ready marker
	warmIdle                    // ready for a script
	warmOutput                  // command output, watching for the trailer
	warmStatus                  // the trailer's status line
	warmStderr                  // stderr
	warmResync                  // the command is over; waiting for the ready marker
	warmBroken
)

// command is one command in flight.
type command struct {
	req     Request
	nonce   string
	trailer []byte
	line    []byte // the trailer's status line
	errLeft int
	status  int
	outErr  error // writing stdout or stderr failed
	done    chan struct{}

	// Under Warm.wmu: no more stdin goes out (interrupted, or over), nothing at all (over).
	noStdin, stopped bool
}

// What a frame is, for send.
type frameKind int

const (
	frameStdin  frameKind = iota // a stdin chunk or its end
	frameScript                  // the script
	frameInt                     // the interrupt line: no more stdin
	frameEnd                     // the end line: the last of this command
)

// NewWarm prepares a warm session's client side. It fails only if no random nonce can be made.
func NewWarm() (*Warm, error) {
	if _, err := newNonce(); err != nil {
		return nil, err
	}
	w := &Warm{
		grace:         defaultGrace,
		interruptWait: interruptWait,
		resyncWait:    resyncWait,
		sem:           make(chan struct{}, 1),
		readyc:        make(chan struct{}),
		booted:        make(chan struct{}),
		broken:        make(chan struct{}),
	}
	w.inR, w.inW = io.Pipe()
	return w, nil
}

func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// CommandLine is what StartTerminalSession runs.
func (w *Warm) CommandLine() string { return WarmBootstrap }

// Input is the byte stream to send to the session.
func (w *Warm) Input() io.Reader { return w.inR }

// Output takes the session's output.
func (w *Warm) Output() io.Writer { return warmWriter{w} }

// Broken is closed when the warm session can no longer run commands: output it cannot parse,
// a command it could not stop, or Close.
func (w *Warm) Broken() <-chan struct{} { return w.broken }

// Err says why the Warm is broken (nil while it is not).
func (w *Warm) Err() error {
	w.emu.Lock()
	defer w.emu.Unlock()
	return w.err
}

// Close ends the Warm: Input ends, a Run in flight returns, and Broken is closed. Call it when
// the session is over, or when it never opened.
func (w *Warm) Close() {
	w.fail(errors.New("the warm session is closed"))
}

// Ready waits until the remote loop first says it is ready (or ctx ends, or the Warm breaks).
func (w *Warm) Ready(ctx context.Context) error {
	select {
	case <-w.booted:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-w.broken:
		select {
		case <-w.booted:
			return nil
		default:
		}
		w.mu.Lock() // before the first ready marker, Output writes nowhere that may block
		out := strings.TrimSpace(printable(w.pre))
		w.mu.Unlock()
		if out != "" {
			return fmt.Errorf("the warm exec helper did not start on the instance (it needs sh, stty, head and mkfifo); its output: %q", out)
		}
		return fmt.Errorf("the warm exec helper did not start on the instance (it needs sh, stty, head and mkfifo): %w", w.Err())
	}
}

// fail breaks the Warm with err, once.
func (w *Warm) fail(err error) {
	w.failOnce.Do(func() {
		w.emu.Lock()
		w.err = err
		w.emu.Unlock()
		close(w.broken)
		w.inR.CloseWithError(io.ErrClosedPipe)
		w.inW.CloseWithError(io.ErrClosedPipe)
	})
}

// Run runs one command (req.TTY must be false; Rows and Cols are ignored) and returns its exit
// status. Calls are serialised: one command at a time per Warm.
//
// If ctx is cancelled while the command runs, the command (its whole process group) is stopped
// on the instance, SIGTERM then SIGKILL after a grace, and Run returns the status the remote
// reports with ctx's error; the Warm stays usable. If ctx ends before the command was sent,
// Run returns -1 and ctx's error, and the Warm stays usable too. Otherwise a status of -1 with
// an error means this warm session is broken (Broken is closed) and must be dropped.
//
// Run stops reading req.Stdin when the command is over, once a Read in progress returns.
func (w *Warm) Run(ctx context.Context, req Request) (int, error) {
	if req.TTY {
		return -1, errors.New("a warm session runs commands without a terminal only")
	}
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		return -1, ctx.Err()
	case <-w.broken:
		return -1, w.Err()
	}
	defer func() { <-w.sem }()

	w.mu.Lock()
	readyc := w.readyc
	w.mu.Unlock()
	select {
	case <-readyc:
	case <-ctx.Done():
		return -1, ctx.Err()
	case <-w.broken:
		return -1, w.Err()
	}

	nonce, err := newNonce()
	if err != nil {
		return -1, err
	}
	c := &command{req: req, nonce: nonce, trailer: []byte("\x1e" + nonce + " "), done: make(chan struct{})}
	if c.req.Stdout == nil {
		c.req.Stdout = io.Discard
	}
	if c.req.Stderr == nil {
		c.req.Stderr = io.Discard
	}
	w.mu.Lock()
	if w.phase != warmIdle {
		w.mu.Unlock()
		return -1, w.Err()
	}
	w.cur = c
	w.phase = warmOutput
	w.readyc = make(chan struct{})
	next := w.readyc
	w.mu.Unlock()

	s := warmScript(req.Command, nonce, w.grace)
	first := append(warmScriptHeader(len(s)), s...)
	if req.Stdin == nil {
		first = append(first, warmHeader(warmEOF, 0)...)
	}
	sent := w.sendAsync(c, first, frameScript, nil)
	if req.Stdin != nil {
		go func() {
			<-sent
			w.feed(c, req.Stdin)
		}()
	}

	select {
	case <-c.done:
		go w.end(c, next)
		return c.status, c.outErr
	case <-w.broken:
		return -1, w.Err()
	case <-ctx.Done():
	}
	w.sendAsync(c, warmHeader(warmInterrupt, 0), frameInt, sent)
	t := time.NewTimer(w.interruptWait)
	defer t.Stop()
	select {
	case <-c.done:
		go w.end(c, next)
		return c.status, ctx.Err()
	case <-w.broken:
		return -1, w.Err()
	case <-t.C:
		w.fail(errors.New("an interrupted command did not end on the instance"))
		return -1, w.Err()
	}
}

// sendAsync sends b for c once after is closed (nil: at once); the returned channel is closed
// once it has gone, or could not go. A write may wait behind stdin the remote is not reading,
// and Run must not wait with it.
func (w *Warm) sendAsync(c *command, b []byte, kind frameKind, after <-chan struct{}) <-chan struct{} {
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		if after != nil {
			<-after
		}
		w.send(c, b, kind)
	}()
	return sent
}

// send writes one frame for c unless c is over (or, for stdin, interrupted).
func (w *Warm) send(c *command, b []byte, kind frameKind) bool {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if c.stopped || kind == frameStdin && c.noStdin {
		return false
	}
	switch kind {
	case frameInt:
		c.noStdin = true
	case frameEnd:
		c.stopped = true
	}
	_, err := w.inW.Write(b)
	return err == nil
}

// end sends the end frame once c's trailer is in (nothing of c goes out after it), and
// breaks the Warm if the ready marker, ready, does not follow within resyncWait.
func (w *Warm) end(c *command, ready <-chan struct{}) {
	w.send(c, warmHeader(warmEnd, 0), frameEnd)
	t := time.NewTimer(w.resyncWait)
	defer t.Stop()
	select {
	case <-ready:
	case <-w.broken:
	case <-t.C:
		w.fail(errors.New("the warm session did not become ready again after a command"))
	}
}

// feed sends r as c's stdin: chunks, then end of file.
func (w *Warm) feed(c *command, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 && !w.send(c, append(warmHeader(warmStdin, n), buf[:n]...), frameStdin) {
			return
		}
		if err != nil {
			break
		}
	}
	w.send(c, warmHeader(warmEOF, 0), frameStdin)
}
