//go:build unix

package emulator

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
	"go.uber.org/goleak"

	"github.com/ecsterm/ecsterm/pkg/session"
)

// run types cmd into the shell and returns its output, using a marker that only appears once
// the shell has run it: the echoed input holds $((6*7)), the output 42.
func (p *peer) run(cmd string) string {
	p.t.Helper()
	mark := len(p.out)
	p.input(cmd + "; echo '<'done$((6*7))'>'\r")
	p.untilAfter(mark, "<done42>")
	out := p.outputSince(mark)
	return out[:strings.Index(out, "<done42>")]
}

// hasLine reports whether out holds line as a whole line (bash wraps lines in escape sequences
// such as bracketed-paste toggles, which end in \r).
func hasLine(out, line string) bool {
	return slices.Contains(strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' }), line)
}

func shell(t *testing.T, e *Emulator) *peer {
	t.Helper()
	wsURL, token := startDirect(t, e, idDemo)
	p := dialPeer(t, wsURL, token)
	p.firstOutput()
	return p
}

func TestShellFirstFrames(t *testing.T) {
	e := testEmulator(t, Options{})
	wsURL, token := startDirect(t, e, idDemo)
	p := dialPeer(t, wsURL, token)
	first := p.next()
	if first.err != nil || first.typ != session.TypeOutput {
		t.Fatalf("first frame = %+v, want Output", first)
	}
	if !strings.HasPrefix(first.channelID, "c-") || first.instanceID != idDemo {
		t.Errorf("first frame header: channel %q, instance %q; want a channel id and %s", first.channelID, first.instanceID, idDemo)
	}
	p.until("demo-web-01") // the prompt names the instance
	for _, r := range p.seen {
		if r.channelID != first.channelID || r.instanceID != idDemo {
			t.Errorf("frame header changed: channel %q instance %q", r.channelID, r.instanceID)
		}
	}
	// A second connection to the same URL is a channel of its own (docs/protocol.md §10.3).
	q := dialPeer(t, wsURL, token)
	if second := q.firstOutput(); second.channelID == first.channelID || second.channelID == "" {
		t.Errorf("second connection's channel id %q, first %q; want a different one", second.channelID, first.channelID)
	}
}

func TestShellTerminal(t *testing.T) {
	e := testEmulator(t, Options{})
	p := shell(t, e)

	settings := strings.Fields(p.run("stty -a"))
	for _, want := range []string{"echo", "icanon", "isig", "onlcr", "opost", "icrnl"} {
		if !slices.Contains(settings, want) || slices.Contains(settings, "-"+want) {
			t.Errorf("stty -a lacks %s: %v", want, settings)
		}
	}
	if got := p.run("echo $TERM"); !hasLine(got, "xterm-256color") {
		t.Errorf("echo $TERM gave %q, want xterm-256color", got)
	}
	if got := p.run("stty size"); !hasLine(got, "24 80") {
		t.Errorf("initial size %q, want 24 80", got)
	}
	p.resize(33, 101)
	if got := p.run("stty size"); !hasLine(got, "33 101") {
		t.Errorf("size after resize %q, want 33 101", got)
	}
	// The pre-v421 JSON form is still understood (ParseResize).
	p.send(session.TypeResize, []byte(`{"rows":40,"cols":120}`))
	if got := p.run("stty size"); !hasLine(got, "40 120") {
		t.Errorf("size after a JSON resize %q, want 40 120", got)
	}
	// The session user and home are the agent's, not the test runner's.
	if got := p.run(`echo "u=$USER h=$HOME"; pwd`); !strings.Contains(got, "u="+defaultUser) || !strings.Contains(got, idDemo) {
		t.Errorf("user and home: %q, want %s in the instance's home", got, defaultUser)
	}
}

func TestOutputFrames(t *testing.T) {
	var seq strings.Builder
	for i := 1; i <= 3000; i++ {
		fmt.Fprintf(&seq, "%d\r\n", i)
	}
	euros := strings.Repeat("€", 490) // 1470 bytes: no 1024-byte cut can fall on a character boundary
	tests := []struct {
		name, cmd, want string
	}{
		{"seq", "seq 1 3000", seq.String()},
		{"three-byte characters", "printf %s " + euros, euros},
		{"mixed widths in small writes", `bash -c 'for i in $(seq 1 600); do printf "a€é😀"; done'`, strings.Repeat("a€é😀", 600)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEmulator(t, Options{})
			wsURL, token := startDirect(t, e, idDemo, "CommandLine", tt.cmd)
			p := dialPeer(t, wsURL, token)
			p.expectEnd("Exit") // the program's exit ends the session
			if p.output() != tt.want {
				t.Errorf("output is %d bytes ending %q, want %d bytes ending %q", len(p.out), tail(p.output()), len(tt.want), tail(tt.want))
			}
			frames := 0
			for _, r := range p.seen {
				if r.err != nil || r.typ != session.TypeOutput {
					continue
				}
				frames++
				if len(r.payload) > maxShellFrame || len(r.payload) == 0 {
					t.Errorf("output frame of %d bytes", len(r.payload))
				}
				if !utf8.Valid(r.payload) {
					t.Errorf("output frame of %d bytes splits a UTF-8 character: ...%q", len(r.payload), tail(string(r.payload)))
				}
			}
			if min := (len(tt.want) + maxShellFrame - 1) / maxShellFrame; frames < min {
				t.Errorf("%d output frames, want at least %d", frames, min)
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 12 {
		return s[len(s)-12:]
	}
	return s
}

func TestInputBeforeAgentReadyIsDropped(t *testing.T) {
	e := testEmulator(t, Options{AgentStartDelay: 300 * time.Millisecond})
	wsURL, token := startDirect(t, e, idDemo)
	p := dialPeer(t, wsURL, token)
	p.input("echo early-$((40+1))\r") // the PTY does not exist yet
	p.firstOutput()
	p.input("echo late-$((40+2))\r")
	p.until("late-42")
	// Input is processed in order: had the early line reached the shell, it would show by now.
	if strings.Contains(p.output(), "early") {
		t.Errorf("input sent before the agent was ready reached the shell: %q", p.output())
	}
}

func TestCommandLineIsNotAShell(t *testing.T) {
	tests := []struct{ cmd, want string }{
		{`printf '%s|' 'a b' "c d"`, "a b|c d|"},
		{`printf '%s|' $HOME a\ b '' "x\"y"`, `$HOME|a b||x"y|`}, // no expansion, quotes and escapes only
		{`printf '%s|' 'a;b' "c && d" '*'`, "a;b|c && d|*|"},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			e := testEmulator(t, Options{})
			wsURL, token := startDirect(t, e, idDemo, "CommandLine", tt.cmd)
			p := dialPeer(t, wsURL, token)
			p.expectEnd("Exit")
			if p.output() != tt.want {
				t.Errorf("output %q, want %q", p.output(), tt.want)
			}
		})
	}
}

// TestShIsTheGivenProgram: with Options.Sh, a CommandLine's sh (or /bin/sh) is that program, as
// on an instance whose /bin/sh is bash; other programs, and sh without the option, are not.
func TestShIsTheGivenProgram(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	readlink, err := exec.LookPath("readlink")
	if err != nil {
		t.Skip("no readlink")
	}
	// ";:" so that the shell does not exec readlink in its place.
	tests := []struct {
		name, sh, cmd, want string
	}{
		{"sh as bash", bash, `sh -c 'readlink /proc/$$/exe;:'`, bash},
		{"/bin/sh as bash", bash, `/bin/sh -c 'readlink /proc/$$/exe;:'`, bash},
		{"default sh", "", `sh -c 'readlink /proc/$$/exe;:'`, sh},
		{"not sh", bash, `readlink /proc/self/exe`, readlink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := filepath.EvalSymlinks(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			e := testEmulator(t, Options{Sh: tt.sh})
			wsURL, token := startDirect(t, e, idDemo, "CommandLine", tt.cmd)
			p := dialPeer(t, wsURL, token)
			p.expectEnd("Exit")
			if got := strings.TrimSpace(p.output()); got != want {
				t.Errorf("%s ran %q, want %q", tt.cmd, got, want)
			}
		})
	}
}

func TestBadCommandLine(t *testing.T) {
	tests := []struct{ cmd, reason string }{
		{`printf 'unterminated`, "OpenPtyFailed"},
		{`/nonexistent/program`, "OpenPtyFailed"},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			e := testEmulator(t, Options{})
			wsURL, token := startDirect(t, e, idDemo, "CommandLine", tt.cmd)
			p := dialPeer(t, wsURL, token)
			p.expectEnd(tt.reason)
		})
	}
}

func TestShellExit(t *testing.T) {
	e := testEmulator(t, Options{})
	p := shell(t, e)
	p.input("exit\r")
	p.expectEnd("Exit")
}

func TestOfflineAgent(t *testing.T) {
	e := testEmulator(t, Options{AgentTimeout: 200 * time.Millisecond})
	wsURL, token := startDirect(t, e, idOffline) // the API lets it start; only the agent is missing
	p := dialPeer(t, wsURL, token)
	p.input("echo hello\r")
	p.expectEnd("AgentTimeout")
	if p.output() != "" {
		t.Errorf("an offline agent produced output %q", p.output())
	}
}

func TestSplitCommandLine(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "   \t ", want: nil},
		{in: "ls", want: []string{"ls"}},
		{in: "  ls   -l\t/tmp\n", want: []string{"ls", "-l", "/tmp"}},
		{in: `printf '%s|' 'a b' "c d"`, want: []string{"printf", "%s|", "a b", "c d"}},
		{in: `echo ''`, want: []string{"echo", ""}},
		{in: `echo "" x`, want: []string{"echo", "", "x"}},
		{in: `a''b`, want: []string{"ab"}},
		{in: `'a'"b"c`, want: []string{"abc"}},
		{in: `a\ b`, want: []string{"a b"}},
		{in: `a\\b`, want: []string{`a\b`}},
		{in: `\'`, want: []string{"'"}},
		{in: `'a\b'`, want: []string{`a\b`}},            // no escapes inside single quotes
		{in: `"a\"b"`, want: []string{`a"b`}},           // \" inside double quotes
		{in: `"a\\b"`, want: []string{`a\b`}},           // \\ inside double quotes
		{in: `"\$HOME \x"`, want: []string{`$HOME \x`}}, // only \ \" \$ \` are escapes there
		{in: "\"a\\`b\"", want: []string{"a`b"}},
		{in: `$HOME *`, want: []string{"$HOME", "*"}}, // no expansion of any kind
		{in: `"it's"`, want: []string{"it's"}},
		{in: `'say "hi"'`, want: []string{`say "hi"`}},
		{in: "é 'ü ß'", want: []string{"é", "ü ß"}},
		{in: `trailing\`, want: []string{"trailing"}},
		{in: `'unterminated`, wantErr: true},
		{in: `"unterminated`, wantErr: true},
		{in: `ok "still \" open`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := splitCommandLine(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("splitCommandLine(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitCommandLine(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestUTF8Cut(t *testing.T) {
	euro := "€"  // e2 82 ac
	emoji := "😀" // f0 9f 98 80
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"aé", 3},
		{"a" + "é"[:1], 1},
		{"a" + euro, 4},
		{"a" + euro[:1], 1},
		{"a" + euro[:2], 1},
		{"a" + emoji, 5},
		{"a" + emoji[:1], 1},
		{"a" + emoji[:2], 1},
		{"a" + emoji[:3], 1},
		{euro[:2], 0},
		{"a\x80", 2},            // a stray continuation byte can never complete: send it
		{"a\xff", 2},            // not a UTF-8 byte at all
		{"\x80\x80\x80\x80", 4}, // no start byte in reach
		{"a" + euro + euro[1:], 6},
	}
	for _, tt := range tests {
		if got := utf8Cut([]byte(tt.in)); got != tt.want {
			t.Errorf("utf8Cut(% x) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// processState is the state letter of pid from /proc ("R", "S", "Z"...), or "gone".
func processState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "gone"
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// waitPID reads output until re (with one group: a pid) matches, and returns the pid.
func (p *peer) waitPID(re *regexp.Regexp) int {
	p.t.Helper()
	for !re.MatchString(p.output()) {
		if r := p.next(); r.err != nil || r.typ == session.TypeStatus {
			p.t.Fatalf("session ended before %v matched: %q", re, p.output())
		}
	}
	pid, _ := strconv.Atoi(re.FindStringSubmatch(p.output())[1])
	return pid
}

func TestCloseLeavesNoGoroutinesOrProcesses(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	before := goleak.IgnoreCurrent()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = e.Close()
		}
	})
	// One idle shell, and one shell running a foreground program. The markers print as pid1=
	// and pid2= only when the shell runs them, not in the echo of the typed line.
	p := shell(t, e)
	p.input("echo pid$((1))=$$\r")
	shellPID := p.waitPID(regexp.MustCompile(`pid1=(\d+)\r\n`))
	q := shell(t, e)
	q.input("sh -c 'echo pid$((2))=$$; exec sleep 1000'\r")
	fgPID := q.waitPID(regexp.MustCompile(`pid2=(\d+)\r\n`))

	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	// Close returns only once the session's own process has been reaped.
	if st := processState(shellPID); st != "gone" {
		t.Errorf("after Close the shell (pid %d) is in state %s", shellPID, st)
	}
	// The foreground program was hung up with its terminal. It is the shell's child, not ours:
	// once orphaned it may stay a zombie until init reaps it, which is not the emulator's doing.
	deadline := time.Now().Add(patience)
	for st := processState(fgPID); st != "gone" && st != "Z"; st = processState(fgPID) {
		if time.Now().After(deadline) {
			t.Errorf("foreground program (pid %d) survived Close in state %s", fgPID, st)
			_ = syscall.Kill(fgPID, syscall.SIGKILL)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.expectEnd("Exit")
	q.expectEnd("Exit")
	p.close()
	q.close()
	goleak.VerifyNone(t, before)
}

// TestCloseKillsProcessIgnoringHangup shows that Close cannot hang on a session program that
// ignores SIGHUP: it is killed after the grace period.
func TestCloseKillsProcessIgnoringHangup(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	wsURL, token := startDirect(t, e, idDemo, "CommandLine", `bash -c 'trap "" HUP; echo pid$((3))=$$; while :; do sleep 0.05; done'`)
	p := dialPeer(t, wsURL, token)
	pid := p.waitPID(regexp.MustCompile(`pid3=(\d+)\r\n`))
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(killGrace + patience):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatal("Close hangs on a program that ignores SIGHUP")
	}
	if st := processState(pid); st != "gone" {
		t.Errorf("after Close the program (pid %d) is in state %s", pid, st)
	}
}

// TestGatherTakesWhatIsWaiting: after the read that waits, the pump takes the output that is
// already there, up to its buffer, so that it leaves in one write.
func TestGatherTakesWhatIsWaiting(t *testing.T) {
	chunks := func(sizes ...int) func([]byte) int { // what is waiting, read by read
		return func(p []byte) int {
			if len(sizes) == 0 {
				return 0
			}
			n := min(sizes[0], len(p))
			sizes = sizes[1:]
			return n
		}
	}
	read := func(n int, err error) func([]byte) (int, error) {
		return func([]byte) (int, error) { return n, err }
	}
	buf := make([]byte, ptyReadSize)
	tests := []struct {
		name    string
		read    func([]byte) (int, error)
		now     func([]byte) int
		have    int
		want    int
		wantErr bool
	}{
		{"nothing more waiting", read(4095, nil), chunks(), 0, 4095, false},
		{"a short read: no more is asked for", read(5, nil), chunks(4095), 0, 5, false},
		{"two reads more waiting", read(4095, nil), chunks(4095, 2000), 0, 4095 + 4095 + 2000, false},
		{"a short read ends it", read(4095, nil), chunks(2000, 4095), 0, 4095 + 2000, false},
		{"stops when no chunk fits", read(4095, nil), chunks(4095, 4095, 4095), 0, 4095 * 3, false},
		{"after what was kept back", read(4095, nil), chunks(4095), 3, 3 + 4095 + 4095, false},
		{"no reading on after an error", read(10, syscall.EIO), chunks(4095), 0, 10, true},
		{"no way to read without waiting", read(4095, nil), nil, 0, 4095, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gather(tt.read, tt.now, buf, tt.have)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("gather = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestReadNowDoesNotWait: on a PTY with no output, readNow answers at once (a wait there would
// hold back the output gathered before it: a keystroke's echo, say); with output, it reads it.
func TestReadNowDoesNotWait(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	f, err := pollable(ptmx)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n := readNow(raw, buf); n != 0 {
		t.Fatalf("readNow on an empty PTY = %d", n)
	}
	if _, err := tty.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	// The PTY passes output on asynchronously: wait for it as the pump does, reading one byte;
	// the other arrived with it, and readNow takes it, then finds nothing more.
	if n, err := f.Read(buf[:1]); n != 1 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if n := readNow(raw, buf); n != 1 || buf[0] != 'b' {
		t.Fatalf("readNow with a byte waiting = %d (%q)", n, buf[:n])
	}
	if n := readNow(raw, buf); n != 0 {
		t.Errorf("readNow after the last byte = %d", n)
	}
}
