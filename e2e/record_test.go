//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// cast is an asciicast v2 file as the published format describes it: a header object on the
// first line, then one [time, code, data] array per line, times never going back.
type cast struct {
	Header struct {
		Version   int               `json:"version"`
		Width     int               `json:"width"`
		Height    int               `json:"height"`
		Timestamp int64             `json:"timestamp"`
		Env       map[string]string `json:"env"`
		Title     string            `json:"title"`
	}
	Events []castEvent
}

type castEvent struct {
	Time       float64
	Code, Data string
}

// readCast parses path strictly: anything the format does not allow fails the test.
func readCast(t *testing.T, path string) cast {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c cast
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("%s: empty", path)
	}
	dec := json.NewDecoder(strings.NewReader(sc.Text()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.Header); err != nil {
		t.Fatalf("header %q: %v", sc.Text(), err)
	}
	if c.Header.Version != 2 || c.Header.Width <= 0 || c.Header.Height <= 0 || c.Header.Timestamp <= 0 {
		t.Fatalf("header %+v", c.Header)
	}
	last := 0.0
	for sc.Scan() {
		var raw []json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil || len(raw) != 3 {
			t.Fatalf("event %q: %v", sc.Text(), err)
		}
		var ev castEvent
		if json.Unmarshal(raw[0], &ev.Time) != nil || json.Unmarshal(raw[1], &ev.Code) != nil || json.Unmarshal(raw[2], &ev.Data) != nil {
			t.Fatalf("event %q: not [number, string, string]", sc.Text())
		}
		switch ev.Code {
		case "o", "i":
		case "r":
			var cols, rows int
			if _, err := fmt.Sscanf(ev.Data, "%dx%d", &cols, &rows); err != nil || cols <= 0 || rows <= 0 {
				t.Fatalf("resize event %q", sc.Text())
			}
		default:
			t.Fatalf("event code %q in %q", ev.Code, sc.Text())
		}
		if ev.Time < last {
			t.Fatalf("time goes back at %q", sc.Text())
		}
		last = ev.Time
		c.Events = append(c.Events, ev)
	}
	if !bytes.HasSuffix(b, []byte("\n")) {
		t.Fatalf("%s: last line not ended", path)
	}
	return c
}

func (c cast) output() string {
	var b strings.Builder
	for _, ev := range c.Events {
		if ev.Code == "o" {
			b.WriteString(ev.Data)
		}
	}
	return b.String()
}

func (c cast) count(code string) int {
	n := 0
	for _, ev := range c.Events {
		if ev.Code == code {
			n++
		}
	}
	return n
}

// asciinemaCat plays the file with asciinema when it is installed: the reference reader.
func asciinemaCat(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("asciinema")
	if err != nil {
		t.Log("asciinema not installed: the file is checked by readCast only")
		return ""
	}
	// asciinema cat reads /dev/tty: it runs on a terminal of its own, which is read until
	// asciinema has exited and closed it (EIO).
	cmd := exec.Command(bin, "cat", path)
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	out, _ := io.ReadAll(ptmx)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("asciinema cat %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// TestConnectRecord: connect --record on a PTY writes an asciicast v2 file with the commands'
// output and the resize, no keystrokes without --record-input, mode 0600, and will not
// overwrite it without --force.
func TestConnectRecord(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.setenv("TERM", "xterm-256color")
	tm := newTerminal(t, 24, 80)
	path := filepath.Join(h.home, "s.cast")
	cmd := h.command("connect", "--record", path, demoInstance)
	tm.start(t, cmd)
	scr := tm.scr
	at := scr.waitFor(t, 0, "@demo-web-01 ~]")
	tm.typeIn("echo rec-$((6*7)) €uro\r")
	at = scr.waitFor(t, at, "rec-42")
	at = scr.waitFor(t, at, "@demo-web-01 ~]")
	tm.resize(t, 41, 133)
	for i := 0; ; i++ {
		tm.typeIn("stty size\r")
		next := scr.waitFor(t, at, "@demo-web-01 ~]")
		if strings.Contains(scr.String()[at:next], "41 133") {
			break
		}
		if i == 50 {
			t.Fatalf("remote size never became 41 133:\n%s", scr.String()[at:])
		}
		at = next
	}
	tm.typeIn("exit\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ecsterm connect: %v\n%s", err, scr.String())
	}

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	c := readCast(t, path)
	if c.Header.Width != 80 || c.Header.Height != 24 || !strings.Contains(c.Header.Title, demoInstance) ||
		!strings.Contains(c.Header.Title, "demo-web-01") || c.Header.Env["TERM"] != "xterm-256color" {
		t.Errorf("header %+v", c.Header)
	}
	out := c.output()
	for _, want := range []string{"rec-42 €uro", "41 133"} {
		if !strings.Contains(out, want) {
			t.Errorf("recorded output lacks %q:\n%s", want, out)
		}
	}
	resized := false
	for _, ev := range c.Events {
		resized = resized || ev.Code == "r" && ev.Data == "133x41"
	}
	if !resized {
		t.Errorf("no resize event 133x41 in %+v", c.Events)
	}
	if n := c.count("i"); n != 0 {
		t.Errorf("%d input events without --record-input", n)
	}
	if played := asciinemaCat(t, path); played != "" && !strings.Contains(played, "rec-42") {
		t.Errorf("asciinema cat lacks the output:\n%s", played)
	}

	// The file is never overwritten without --force, and nothing is started for it.
	before, _ := os.ReadFile(path)
	calls := h.emu.Calls("StartTerminalSession")
	r := h.run("", "connect", "--record", path, demoInstance)
	if r.code != 255 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("second --record: exit %d, stderr %q", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("existing recording changed without --force")
	}
	if got := h.emu.Calls("StartTerminalSession"); got != calls {
		t.Errorf("StartTerminalSession called for a recording that could not be written")
	}

	// With --force, a session that never starts leaves the old recording as it was; one that
	// starts replaces it.
	r = h.run("", "connect", "--record", path, "--force", "i-emu0stopped000002")
	if r.code != 255 {
		t.Errorf("--force to a stopped instance: exit %d, stderr %q", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("--force emptied the recording of a session that never started")
	}
	r = h.run("echo again-$((3*3))\nexit\n", "connect", "--record", path, "--force", demoInstance)
	if r.code != 0 {
		t.Fatalf("--force: exit %d, stderr %q", r.code, r.stderr)
	}
	if after, _ := os.ReadFile(path); bytes.Equal(before, after) || !bytes.Contains(after, []byte("again-9")) || bytes.Contains(after, []byte("rec-42")) {
		t.Errorf("--force did not replace the recording:\n%s", after)
	}
}

// TestConnectRecordInput: with --record-input, keystrokes are input events.
func TestConnectRecordInput(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	path := filepath.Join(h.home, "in.cast")
	cmd := h.command("connect", "--record", path, "--record-input", demoInstance)
	tm.start(t, cmd)
	at := tm.scr.waitFor(t, 0, "@demo-web-01 ~]")
	tm.typeIn("echo typed-$((1+1))\r")
	tm.scr.waitFor(t, at, "typed-2")
	tm.typeIn("exit\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ecsterm connect: %v\n%s", err, tm.scr.String())
	}
	c := readCast(t, path)
	var in strings.Builder
	for _, ev := range c.Events {
		if ev.Code == "i" {
			in.WriteString(ev.Data)
		}
	}
	if !strings.Contains(in.String(), "echo typed-$((1+1))\r") {
		t.Errorf("input events %q lack the typed command", in.String())
	}
}

// TestConnectRecordKilled: kill -9 in the middle of a session leaves a file that parses, with
// the output seen so far.
func TestConnectRecordKilled(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	tm := newTerminal(t, 24, 80)
	path := filepath.Join(h.home, "killed.cast")
	cmd := h.command("connect", "--record", path, demoInstance)
	tm.start(t, cmd)
	at := tm.scr.waitFor(t, 0, "@demo-web-01 ~]")
	tm.typeIn("echo before-$((3*3))-kill\r")
	tm.scr.waitFor(t, at, "before-9-kill")
	cmd.Process.Kill()
	cmd.Wait()
	c := readCast(t, path)
	if !strings.Contains(c.output(), "before-9-kill") {
		t.Errorf("recorded output lacks what was shown before the kill:\n%s", c.output())
	}
	asciinemaCat(t, path)
}

// TestConnectRecordDir: record_dir records each session into its own file, named by time,
// instance and session ID; a directory that cannot take the file stops the session before it
// starts.
func TestConnectRecordDir(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	dir := filepath.Join(h.home, "casts")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h.setenv("ECSTERM_RECORD_DIR", dir)
	for range 2 {
		if r := h.run("echo dir-$((5*5))\n", "connect", demoInstance); r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*_"+demoInstance+"_s-*.cast"))
	if len(files) != 2 {
		t.Fatalf("recordings %v, want 2", files)
	}
	for _, f := range files {
		if c := readCast(t, f); !strings.Contains(c.output(), "dir-25") {
			t.Errorf("%s lacks the output: %q", f, c.output())
		}
	}

	// A record_dir that cannot take files stops the connect before any session starts.
	h.setenv("ECSTERM_RECORD_DIR", files[0])
	calls := h.emu.Calls("StartTerminalSession")
	r := h.run("echo never-$((1+1))\n", "connect", demoInstance)
	if r.code != 255 || !strings.Contains(r.stderr, "record_dir") || strings.Contains(r.stdout, "never-2") {
		t.Errorf("record_dir a file: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := h.emu.Calls("StartTerminalSession"); got != calls {
		t.Errorf("StartTerminalSession called for a recording that could not be written")
	}
}

// TestExecTTYRecordDir: record_dir records exec -t too, and not a plain exec, whose bytes are
// the user's own pipes.
func TestExecTTYRecordDir(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	dir := filepath.Join(h.home, "casts")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h.setenv("ECSTERM_RECORD_DIR", dir)
	if r := h.run("", "exec", "-t", demoInstance, "--", "echo exec-$((4*4))"); r.code != 0 || !strings.Contains(r.stdout, "exec-16") {
		t.Fatalf("exec -t: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := h.run("", "exec", demoInstance, "--", "echo plain-$((4*4))"); r.code != 0 {
		t.Fatalf("exec: exit %d, stderr %q", r.code, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.cast"))
	if len(files) != 1 {
		t.Fatalf("recordings %v, want the exec -t one only", files)
	}
	c := readCast(t, files[0])
	if !strings.Contains(c.output(), "exec-16") || !strings.Contains(c.Header.Title, "exec -t") {
		t.Errorf("recording: title %q, output %q", c.Header.Title, c.output())
	}
}
