package attach

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ecsterm/ecsterm/internal/text"
	"github.com/ecsterm/ecsterm/pkg/record"
)

// RecordFile is where a session is recorded: one named file (--record), or a new file in a
// directory (record_dir). Commands make it with NewRecordFile, pass Recording() to the session
// and Close it when the session is over.
type RecordFile struct {
	file  *os.File // --record: created before the session, so a bad path costs no session
	path  string
	dir   string // record_dir
	input bool
	verb  string // the command, for the title: connect, exec -t
	now   func() time.Time
	// started is set once the header is written: a file that never got one is removed, unless
	// it existed before (--force), when it is left as it was.
	started bool
	existed bool
}

// NewRecordFile opens --record's file path (refusing an existing one without force), or
// remembers dir, the configured record_dir, when path is "". It returns nil when neither is
// set: the session is not recorded. input records keystrokes too; verb names the command in
// the recording's title. An existing file that force lets it overwrite is opened now, so a
// path that cannot be written costs no session, and emptied only once the session starts.
func NewRecordFile(path, dir string, force, input bool, verb string) (*RecordFile, error) {
	r := &RecordFile{path: path, dir: dir, input: input, verb: verb, now: time.Now}
	switch {
	case path != "":
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return nil, fmt.Errorf("--record: %s is a directory: give a file's path (the record_dir setting records every session into a directory)", path)
		}
		f, err := record.Create(path, false)
		if errors.Is(err, fs.ErrExist) && force {
			f, err = os.OpenFile(path, os.O_WRONLY, 0)
			r.existed = err == nil
		}
		if err != nil {
			return nil, fmt.Errorf("--record: %w", err)
		}
		r.file = f
	case dir == "":
		return nil, nil
	default:
		if st, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("record_dir: %w", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("record_dir: %s is not a directory", dir)
		}
	}
	return r, nil
}

// Recording is the recording as the session sees it (Options.Recording); nil for a nil r.
func (r *RecordFile) Recording() *Recording {
	if r == nil {
		return nil
	}
	return &Recording{Start: r.start, Input: r.input}
}

// start writes the header, once the session is open. With record_dir it first creates the
// session's file, named by time, instance and session ID.
func (r *RecordFile) start(info RecordInfo) (*record.Recorder, error) {
	now := r.now()
	if r.file == nil {
		f, path, err := createIn(r.dir, fileName(now, info.InstanceID, info.SessionID))
		if err != nil {
			return nil, err
		}
		r.file, r.path = f, path
	}
	if r.existed {
		if err := r.file.Truncate(0); err != nil {
			return nil, fmt.Errorf("%s: %w", r.path, err)
		}
	}
	title := info.InstanceID
	if info.InstanceName != "" {
		title += " (" + text.OneLine(info.InstanceName) + ")"
	}
	rec, err := record.New(r.file, record.Header{
		Width: info.Cols, Height: info.Rows, Timestamp: now,
		Env:   map[string]string{"TERM": os.Getenv("TERM")},
		Title: "ecsterm " + r.verb + " " + title,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.path, err)
	}
	r.started = true
	return rec, nil
}

// Close closes the file, and removes it if the session never started (no header in it) and
// ecsterm created it.
func (r *RecordFile) Close() {
	if r == nil || r.file == nil {
		return
	}
	r.file.Close()
	if !r.started && !r.existed {
		os.Remove(r.path)
	}
}

// ExpandHome expands a leading ~/ in a configured path (record_dir), as a shell would have on
// the command line.
func ExpandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

// fileName is a recording's name in record_dir: UTC time, instance and session ID. The IDs come
// from the service, so only ASCII letters, digits and '-' of them are kept (anything else is
// '_'), and at most 64 bytes of each.
func fileName(t time.Time, instanceID, sessionID string) string {
	return t.UTC().Format("20060102T150405Z") + "_" + sanitize(instanceID) + "_" + sanitize(sessionID)
}

func sanitize(id string) string {
	id = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '_'
	}, id)
	if len(id) > 64 {
		id = id[:64]
	}
	if id == "" {
		id = "unknown"
	}
	return id
}

// createIn creates name.cast in dir, or name-2.cast and so on if it exists: never overwriting.
func createIn(dir, name string) (*os.File, string, error) {
	for i := 1; i <= 100; i++ {
		path := filepath.Join(dir, name+".cast")
		if i > 1 {
			path = filepath.Join(dir, name+"-"+strconv.Itoa(i)+".cast")
		}
		f, err := record.Create(path, false)
		if err == nil {
			return f, path, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", fmt.Errorf("record_dir: %w", err)
		}
	}
	return nil, "", fmt.Errorf("record_dir: too many recordings named %s", name)
}
