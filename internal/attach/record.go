package attach

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/ecsterm/ecsterm/pkg/record"
	"github.com/ecsterm/ecsterm/pkg/session"
	"github.com/ecsterm/ecsterm/pkg/term"
)

// RecordInfo is what a recording's header and file name need, known once the session is open.
type RecordInfo struct {
	InstanceID   string
	InstanceName string
	SessionID    string
	// Cols and Rows are the local terminal's size (80x24 when there is none).
	Cols, Rows int
}

// Recording is a session's recording: Start makes the recorder once the session is open and
// before the terminal goes raw, so that a recording that cannot be written stops the session
// before the user types anything. Input says whether keystrokes are recorded too.
type Recording struct {
	Start func(RecordInfo) (*record.Recorder, error)
	Input bool
}

// ErrEndedOutside is wrapped by the error of a session that EndTerminalSession ended while it
// ran (`ecsterm sessions end`, the console, another script).
var ErrEndedOutside = errors.New("the session was ended from outside (EndTerminalSession)")

// endedReasons are the Closed reasons that mean EndTerminalSession ended the session. The real
// gateway's reason for it is not documented (see docs/protocol.md, Close reasons): the emulator sends
// "Terminated", after the connection status DescribeTerminalSessions reports. A gateway that
// says "Exit" instead makes such a session end like a shell that exited, silently and with
// status 0, which is the old behaviour and no worse.
var endedReasons = []string{"Terminated", "SessionTerminated"}

// endedOutside turns the Closed error of a session ended by EndTerminalSession into one that
// names the cause.
func endedOutside(err error) error {
	var cl *session.ClosedError
	if errors.As(err, &cl) {
		for _, r := range endedReasons {
			if strings.EqualFold(cl.Reason, r) {
				return fmt.Errorf("%w (gateway reason %q)", ErrEndedOutside, r)
			}
		}
	}
	return err
}

// startRecording makes the session's recorder, if it has a recording. If it cannot, the
// session is not to run: its WebSocket is closed here, and the caller still ends it.
func (o *local) startRecording(op *opened, r *Recording, instanceID string) (*record.Recorder, RecordInfo, error) {
	if r == nil || r.Start == nil {
		return nil, RecordInfo{}, nil
	}
	info := RecordInfo{InstanceID: instanceID, SessionID: op.sess.ID, Cols: 80, Rows: 24}
	if op.inst != nil {
		info.InstanceID, info.InstanceName = op.inst.ID, op.inst.Name
	}
	if o.Out != nil && term.IsTerminal(o.Out) {
		if sz, err := term.GetSize(o.Out); err == nil && sz.Cols > 0 && sz.Rows > 0 {
			info.Cols, info.Rows = int(sz.Cols), int(sz.Rows)
		}
	}
	rec, err := r.Start(info)
	if err != nil {
		op.conn.Close() // session.Run, which closes it, will not run
		return nil, info, fmt.Errorf("recording the session: %w; not starting it unrecorded", err)
	}
	return rec, info, nil
}

// recordedOutput writes to the recording, then to the terminal: one recorder call (one write
// to the file) per output frame. Recording first means that whatever the user saw is in the
// file, even if ecsterm is killed the moment after. A recording that fails ends the session
// with its error, after the frame is shown.
type recordedOutput struct {
	w   io.Writer
	rec *record.Recorder
}

func (r *recordedOutput) Write(p []byte) (int, error) {
	rerr := r.rec.Output(p)
	n, err := r.w.Write(p)
	if err == nil {
		err = rerr
	}
	return n, err
}

// lateRecord is recordedOutput for exec, whose output writer is made before the session opens
// and so before its recording can start.
type lateRecord struct {
	w   io.Writer
	rec atomic.Pointer[record.Recorder]
}

func (l *lateRecord) Write(p []byte) (int, error) {
	rec := l.rec.Load()
	if rec == nil {
		return l.w.Write(p)
	}
	return (&recordedOutput{w: l.w, rec: rec}).Write(p)
}

// recordedInput records what the session sends: keystrokes after the escape reader took its
// escapes out.
type recordedInput struct {
	r   io.Reader
	rec *record.Recorder
}

func (r *recordedInput) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		if rerr := r.rec.Input(p[:n]); rerr != nil && err == nil {
			err = rerr
		}
	}
	return n, err
}

// sizeRecorder returns what relaySizes calls with each size: it records the sizes that differ
// from the last one recorded (the first is the header's). Nil without a recording.
func sizeRecorder(rec *record.Recorder, info RecordInfo) func(session.Size) {
	if rec == nil {
		return nil
	}
	cols, rows := info.Cols, info.Rows
	return func(s session.Size) {
		if int(s.Cols) != cols || int(s.Rows) != rows {
			cols, rows = int(s.Cols), int(s.Rows)
			_ = rec.Resize(cols, rows) // a failed write fails the next output too, which ends the session
		}
	}
}
