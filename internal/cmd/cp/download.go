package cp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// header is what a download script sends before the data.
type header struct {
	kind byte // 'f' a file, 'd' a tar of a directory
	size int64
	mode fs.FileMode
	name string // the source's base name
}

// received is what the local end of a download wrote: a temporary file or directory next to
// the destination, to be renamed into place once the sums agree.
type received struct {
	hdr   header
	tmp   string
	sum   string // a file's SHA-256
	sums  sums   // a directory's
	bytes int64
}

func (c *copier) download(ctx context.Context) (*result, error) {
	src, dst := c.opts.Src, c.opts.Dst.Path
	name := localName(src.Path)
	fi, err := os.Stat(dst)
	intoDir := err == nil && fi.IsDir()
	dir, final := dst, name // where the temporary goes, and the copy's name in it
	if intoDir {
		if name == "" {
			return nil, fmt.Errorf("%s has no name of its own to take in %s: give the copy's path (one that does not exist yet)", src, dst)
		}
		if name != "." {
			if err := checkBaseName(name); err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
		}
	} else {
		if strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, string(filepath.Separator)) {
			return nil, fmt.Errorf("%s: no such directory", dst)
		}
		dir, final = filepath.Dir(dst), filepath.Base(dst)
		if pi, err := os.Stat(dir); err != nil {
			return nil, pathError(dir, err)
		} else if !pi.IsDir() {
			return nil, fmt.Errorf("%s: not a directory", dir)
		}
	}

	p, _ := trimSlashes(src.Path)
	m := c.newMeter(path.Base(p), -1)
	defer m.Stop()
	pr, pw := io.Pipe()
	type outcome struct {
		rec *received
		err error
	}
	done := make(chan outcome, 1)
	check := func(h header) error { return c.checkHeader(h, name) }
	go func() {
		rec, err := receive(pr, dir, check, m)
		if err != nil {
			pr.CloseWithError(err) // the session's output then fails, and the session ends
		}
		done <- outcome{rec, err}
	}()
	errb := &boundedBuffer{max: maxSumsText}
	status, execErr := c.exec(ctx, downloadScript(src.Path, c.opts.Recursive), nil, pw, errb)
	if execErr != nil {
		pw.CloseWithError(errSessionOver)
	} else {
		pw.Close()
	}
	o := <-done
	m.Stop()
	rec := o.rec
	ok := false
	defer func() {
		if !ok && rec.tmp != "" {
			os.RemoveAll(rec.tmp)
		}
	}()
	msgs, sumText, marked := bytes.Cut(errb.Bytes(), []byte(sumsMarker))
	var refused *refusal
	switch {
	case errors.As(o.err, &refused):
		return nil, fmt.Errorf("%s: %w; nothing was written", src.Instance, o.err)
	case errb.over:
		return nil, fmt.Errorf("%s: more than %d MiB of checksums and messages; nothing was written", src.Instance, maxSumsText>>20)
	case execErr != nil && o.err != nil && !errors.Is(o.err, errSessionOver):
		return nil, o.err // the cause: the local end stopped reading
	case execErr != nil:
		return nil, execErr
	case status != 0:
		return nil, remoteError(src.Instance, status, msgs)
	case o.err != nil:
		return nil, o.err
	case !marked:
		return nil, fmt.Errorf("%s: no checksums came back from the instance", src.Instance)
	}

	if rec.hdr.kind == 'f' {
		want, _, _ := strings.Cut(string(sumText), " ")
		if !isHexSum(want) {
			return nil, fmt.Errorf("%s: malformed checksum %q from the instance", src.Instance, truncate(printable(sumText), 80))
		}
		if want != rec.sum {
			return nil, fmt.Errorf("checksum mismatch: %s has %s, received %s; nothing was written", src, want, rec.sum)
		}
	} else {
		want, err := parseSums(sumText)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Instance, err)
		}
		if err := rec.sums.compare(want); err != nil {
			return nil, fmt.Errorf("%s: %w; nothing was written", src, err)
		}
	}

	if err := place(rec, dir, final); err != nil {
		return nil, err
	}
	ok = true
	res := &result{Src: src.String(), Dst: dst, Bytes: rec.bytes}
	if intoDir && final != "." {
		res.Dst = filepath.Join(dst, final)
	}
	if rec.hdr.kind == 'f' {
		res.SHA256 = rec.sum
	} else {
		n := len(rec.sums)
		res.Files = &n
	}
	return res, nil
}

// localName is the name a download takes in an existing local directory, from the remote
// path the user gave, as with cp and scp: its last element. A path whose last element is "."
// gives "." (a directory's contents go into the destination itself, as with cp -r dir/. dst).
// The home directory, / and a path ending in .. have no name of their own: "".
func localName(remote string) string {
	p, _ := trimSlashes(remote)
	if p == "" || p == "~" {
		return ""
	}
	if b := path.Base(p); b != "/" && b != ".." {
		return b
	}
	return ""
}

// refusal is an answer from the instance that does not match what the user asked for.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

// checkHeader refuses a header that does not describe what the user asked for: a directory
// without -r, or a name other than the source path's own (name, from localName; "" when that
// path has none, and the copy then takes the name the user gave it locally).
func (c *copier) checkHeader(h header, name string) error {
	switch {
	case h.kind == 'd' && !c.opts.Recursive:
		return &refusal{"the instance sent a directory for a copy without -r"}
	case name == "." && h.kind != 'd':
		return &refusal{fmt.Sprintf("the instance sent a file for %s, which names a directory", printable([]byte(c.opts.Src.Path)))}
	case name != "" && h.name != name: // %q escapes every control, bidi and separator character
		return &refusal{fmt.Sprintf("the instance named the copy %q, not %q as the source path does", h.name, name)}
	}
	return nil
}

// receive reads a download's header and data from r into a temporary file or directory in
// dir, once check has accepted the header. The returned record is never nil, and names the
// temporary even on error.
func receive(r io.Reader, dir string, check func(header) error, m *meter) (*received, error) {
	rec := &received{}
	br := bufio.NewReaderSize(r, 64<<10)
	hdr, err := readHeader(br)
	if err != nil {
		return rec, err
	}
	if err := check(hdr); err != nil {
		return rec, err
	}
	rec.hdr = hdr
	switch hdr.kind {
	case 'f':
		m.SetTotal(hdr.size)
		var f *os.File
		if rec.tmp, f, err = createTemp(dir, hdr.mode); err != nil {
			return rec, err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, h, m), br)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return rec, err
		}
		if n != hdr.size {
			return rec, fmt.Errorf("received %d bytes of %d", n, hdr.size)
		}
		rec.sum, rec.bytes = hex.EncodeToString(h.Sum(nil)), n
	case 'd':
		var mask fs.FileMode
		if rec.tmp, mask, err = mkdirTemp(dir); err != nil {
			return rec, err
		}
		root, err := os.OpenRoot(rec.tmp)
		if err != nil {
			return rec, err
		}
		defer root.Close()
		if rec.sums, err = extractTree(br, root, mask, m); err != nil {
			return rec, err
		}
		rec.bytes = m.Bytes()
		// tar pads its output to a whole record after the end marker; drain it so that the
		// session can finish.
		if _, err := io.Copy(io.Discard, br); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// readHeader reads "ecsterm-cp <f|d> <size> <mode> <name>\0".
func readHeader(br *bufio.Reader) (header, error) {
	line, err := br.ReadSlice(0)
	switch {
	case err == nil:
	case len(line) == 0 && errors.Is(err, io.EOF):
		return header{}, errors.New("the instance sent no data")
	case errors.Is(err, io.EOF) || errors.Is(err, bufio.ErrBufferFull):
		return header{}, fmt.Errorf("unexpected output from the instance instead of the data: %q", truncate(printable(line), 80))
	default:
		return header{}, err
	}
	rest, ok := strings.CutPrefix(string(line[:len(line)-1]), headerMagic)
	f := strings.SplitN(rest, " ", 4)
	if !ok || len(f) != 4 || len(f[0]) != 1 || (f[0] != "f" && f[0] != "d") {
		return header{}, fmt.Errorf("unexpected output from the instance instead of the data: %q", truncate(printable(line), 80))
	}
	size, err1 := strconv.ParseInt(f[1], 10, 64)
	mode, err2 := strconv.ParseUint(f[2], 8, 32)
	if err1 != nil || err2 != nil {
		return header{}, fmt.Errorf("malformed header %q from the instance", truncate(printable(line), 80))
	}
	return header{kind: f[0][0], size: size, mode: fs.FileMode(mode) & fs.ModePerm, name: f[3]}, nil
}

// checkBaseName refuses a name for a local copy that is not one plain path element.
func checkBaseName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") ||
		strings.ContainsRune(name, filepath.Separator) || !filepath.IsLocal(name) {
		return fmt.Errorf("cannot name the copy %q", name)
	}
	return nil
}

// createTemp creates a new file for writing in dir, with perm less the umask.
func createTemp(dir string, perm fs.FileMode) (string, *os.File, error) {
	for range 10 {
		name := filepath.Join(dir, ".ecsterm-"+randomHex()+".part")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
	return "", nil, fmt.Errorf("%s: cannot create a temporary file", dir)
}

// mkdirTemp creates a new directory in dir and returns the umask, which its mode reveals.
func mkdirTemp(dir string) (string, fs.FileMode, error) {
	for range 10 {
		name := filepath.Join(dir, ".ecsterm-"+randomHex()+".part")
		err := os.Mkdir(name, 0o777)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", 0, err
		}
		fi, err := os.Stat(name)
		if err != nil {
			os.Remove(name)
			return "", 0, err
		}
		return name, 0o777 &^ fi.Mode().Perm(), nil
	}
	return "", 0, fmt.Errorf("%s: cannot create a temporary directory", dir)
}

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
