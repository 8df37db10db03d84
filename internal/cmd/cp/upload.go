package cp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ecsterm/ecsterm/internal/attach"
	"github.com/ecsterm/ecsterm/internal/cmdutil"
)

// copier runs one copy.
type copier struct {
	opts *Options
	// sessions resolves the remote side's instance, then returns the seam that reaches it.
	sessions func() (cmdutil.Sessions, error)
}

// remote is the side of the copy that is on the instance.
func (c *copier) remote() Location {
	if c.opts.Src.Remote() {
		return c.opts.Src
	}
	return c.opts.Dst
}

// exec runs a cp script on the instance, without a terminal.
func (c *copier) exec(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	sessions, err := c.sessions()
	if err != nil {
		return 0, err
	}
	return sessions.Exec(ctx, attach.ExecOptions{
		Target:    attach.Target{InstanceID: c.remote().Instance, Username: c.opts.User},
		Streams:   attach.Streams{Stdin: stdin, Stdout: stdout, Stderr: stderr},
		Reporting: attach.Reporting{StatusOut: c.statusOut(), OnPaced: c.pacedNotice()},
		Command:   script,
		NoResume:  c.opts.NoResume,
	})
}

// statusOut is where reconnect status lines go: stderr, unless -q. (The script's stderr is not
// the place: it carries the checksums.)
func (c *copier) statusOut() io.Writer {
	if c.opts.Quiet || c.opts.IO == nil {
		return nil
	}
	return c.opts.IO.ErrOut
}

// pacedNotice says once that the service's bandwidth limit paces the upload; where the meter
// draws, the line replaces the bar's (the bar comes back below it on its next update).
func (c *copier) pacedNotice() func(uint64) {
	w := c.statusOut()
	if w != nil && c.opts.IO.IsStderrTTY() {
		return attach.PacedNotice(w, "\r\x1b[K", "\n")
	}
	return attach.PacedNotice(w, "", "\n")
}

// newMeter returns the copy's meter: it draws only on a terminal, and not with -q.
func (c *copier) newMeter(label string, total int64) *meter {
	var w io.Writer
	if ios := c.opts.IO; ios.IsStderrTTY() && !c.opts.Quiet {
		w = ios.ErrOut
	}
	return newMeter(w, label, total)
}

func (c *copier) upload(ctx context.Context) (*result, error) {
	src := c.opts.Src.Path
	info, err := os.Stat(src)
	if err != nil {
		return nil, pathError(src, err)
	}
	switch {
	case info.IsDir() && !c.opts.Recursive:
		return nil, fmt.Errorf("%s: is a directory (use -r)", src)
	case info.IsDir():
		return c.uploadTree(ctx, src)
	case !info.Mode().IsRegular():
		return nil, fmt.Errorf("%s: not a regular file", src)
	}
	return c.uploadFile(ctx, src, info)
}

// uploadFile hashes the file, then streams exactly the bytes it hashed to uploadFileScript.
func (c *copier) uploadFile(ctx context.Context, src string, info os.FileInfo) (*result, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	base := filepath.Base(src)
	m := c.newMeter(base, size)
	defer m.Stop()
	errb := &boundedBuffer{max: maxMessages, drop: true}
	out := &tailBuffer{n: 4 << 10}
	dst := c.opts.Dst
	status, err := c.exec(ctx, uploadFileScript(dst.Path, base, sum, uint32(info.Mode().Perm())),
		m.Reader(io.LimitReader(f, size)), out, errb)
	m.Stop()
	if err != nil {
		return nil, err
	}
	if status != 0 {
		return nil, remoteError(dst.Instance, status, errb.Bytes())
	}
	got, final, err := parseAck(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dst.Instance, err)
	}
	if got != sum {
		return nil, fmt.Errorf("%s: checksum mismatch: sent %s, the instance reports %s", dst.Instance, sum, got)
	}
	return &result{Src: src, Dst: dst.Instance + ":" + final, Bytes: size, SHA256: sum}, nil
}

// uploadTree streams a tar of the tree, with its sums, to uploadTreeScript.
func (c *copier) uploadTree(ctx context.Context, src string) (*result, error) {
	root := src
	if fi, err := os.Lstat(src); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		// Like scp, follow a link named on the command line; the copy keeps the link's name.
		if root, err = filepath.EvalSymlinks(src); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(abs)
	if base == string(filepath.Separator) || base == "." || filepath.VolumeName(abs)+string(filepath.Separator) == abs {
		return nil, fmt.Errorf("%s: cannot copy the root directory", src)
	}
	entries, total, err := scanTree(root, func(p string) {
		fmt.Fprintf(c.opts.IO.ErrOut, "ecsterm: cp: skipping %s: not a regular file, directory or symbolic link\n", p)
	})
	if err != nil {
		return nil, err
	}

	m := c.newMeter(base, total)
	defer m.Stop()
	pr, pw := io.Pipe()
	type sent struct {
		files int
		err   error
	}
	done := make(chan sent, 1)
	go func() {
		files, err := writeTree(pw, entries, m)
		pw.CloseWithError(err) // nil: end of file
		done <- sent{files, err}
	}()
	errb := &boundedBuffer{max: maxMessages, drop: true}
	out := &tailBuffer{n: 4 << 10}
	dst := c.opts.Dst
	status, err := c.exec(ctx, uploadTreeScript(dst.Path, base), pr, out, errb)
	pr.CloseWithError(errSessionOver) // the writer may be blocked on a session that is gone
	s := <-done
	m.Stop()
	switch {
	case s.err != nil && !errors.Is(s.err, errSessionOver):
		return nil, s.err // the cause: the instance saw a cut archive
	case err != nil:
		return nil, err
	case status != 0:
		return nil, remoteError(dst.Instance, status, errb.Bytes())
	}
	got, final, err := parseAck(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dst.Instance, err)
	}
	if n, err := strconv.Atoi(got); err != nil || n != s.files {
		return nil, fmt.Errorf("%s: sent %d files, the instance checked %s", dst.Instance, s.files, got)
	}
	return &result{Src: src, Dst: dst.Instance + ":" + final, Bytes: m.Bytes(), Files: &s.files}, nil
}

// parseAck reads an upload script's "ecsterm-cp ok <value> <final path>\0", which ends its
// output. Output before it (a shell startup file that prints) is ignored: the data went the
// other way, and the instance has checked it.
func parseAck(b []byte) (value, final string, err error) {
	rest, ok := b, false
	if i := bytes.LastIndex(b, []byte(headerMagic+"ok ")); i >= 0 {
		rest, ok = b[i+len(headerMagic+"ok "):], true
	}
	if !ok || len(rest) == 0 || rest[len(rest)-1] != 0 || bytes.IndexByte(rest[:len(rest)-1], 0) >= 0 {
		return "", "", fmt.Errorf("unexpected reply from the copy on the instance: %q", truncate(printable(b), 80))
	}
	value, final, _ = strings.Cut(string(rest[:len(rest)-1]), " ")
	return value, final, nil
}

// pathError says "<path>: <reason>" rather than "stat <path>: <reason>".
func pathError(p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", p, pe.Err)
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// tailBuffer keeps the last n bytes written to it: enough for an acknowledgement, however
// much came before it.
type tailBuffer struct {
	b []byte
	n int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.n {
		t.b = append(t.b[:0], t.b[len(t.b)-t.n:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte { return t.b }

// Bounds on what the instance's stderr may hold in memory: an upload's is only messages; a
// download's also carries the checksum of every file (about 100 bytes each).
// A var so that a test can lower it.
var (
	maxMessages = 64 << 10
	maxSumsText = 256 << 20
)

// errTooMuch is a boundedBuffer's refusal to grow.
var errTooMuch = errors.New("too much on stderr")

// boundedBuffer keeps what is written to it up to max bytes. Past that it drops the rest
// (drop), or fails the write, which ends the session.
type boundedBuffer struct {
	bytes.Buffer
	max  int
	drop bool
	over bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		if !b.drop {
			return 0, errTooMuch
		}
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
