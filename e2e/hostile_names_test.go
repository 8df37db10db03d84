//go:build linux

package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"unicode"

	"github.com/ecsterm/ecsterm/internal/emulator"
)

// Hostile IDs and names, as a compromised account or a broken service might return them: an
// escape sequence and C0 controls, C1 controls (U+009B is a one-byte CSI), bidi overrides and
// isolates, and the line and paragraph separators.
var (
	evilIDs = []string{
		"i-evil\x1b[31m01\x1b]0;pwned\a",
		"i-evil\u009b2J02\u0085",
		"i-evil\u202egnp03\u2066x\u2069",
		"i-evil\u2028sep04\u2029\r",
	}
	evilName = "name\x1b[2J\u202e\u2028\u009b"
)

// noAgentID is a hostile instance without a Cloud Assistant agent (tag noagent=yes).
const noAgentID = "i-evil\x1b[1m\u009b05\u202e"

// hostileFleet holds the four hostile instances (tag evil=yes; the last also tag solo=yes), with
// healthy agents, and noAgentID.
func hostileFleet() *emulator.Fleet {
	f := &emulator.Fleet{Region: "cn-hangzhou"}
	for i, id := range evilIDs {
		in := emulator.Instance{ID: id, Name: fmt.Sprintf("%s-%d", evilName, i), Status: "Running", OS: "Linux",
			PrivateIP: fmt.Sprintf("10.0.9.%d", i+1), Tags: map[string]string{"evil": "yes"},
			Agent: &emulator.Agent{Version: "2.2.3.1032", Online: true, SessionManager: true}}
		if i == len(evilIDs)-1 {
			in.Tags["solo"] = "yes"
		}
		f.Instances = append(f.Instances, in)
	}
	f.Instances = append(f.Instances, emulator.Instance{ID: noAgentID, Name: evilName, Status: "Running", OS: "Linux",
		PrivateIP: "10.0.9.5", Tags: map[string]string{"noagent": "yes"}})
	return f
}

// unsafeRune is what must not reach a terminal from the far side: controls other than newline
// and tab, invisible formatting characters, and the line and paragraph separators.
func unsafeRune(r rune) bool {
	return r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp))
}

// checkClean fails the test if text holds an unsafe character.
func checkClean(t *testing.T, what, text string) {
	t.Helper()
	if i := strings.IndexFunc(text, unsafeRune); i >= 0 {
		t.Errorf("%s holds a raw control or formatting character at %d: %q", what, i, text)
	}
}

// Every place ecsterm prints an instance's ID or name, or the service's words, shows control
// and formatting characters escaped, in text and in -o json alike.
func TestHostileNamesAreEscaped(t *testing.T) {
	h := newHarness(t, emulator.Options{Fleet: hostileFleet()})
	for _, tc := range []struct {
		site string
		args []string
		code int
		// want is text that must appear on stdout or stderr (the escaped form of an ID).
		want string
	}{
		{"exec fan-out prefixes", []string{"exec", "tag:evil=yes", "--", "echo hi; echo err >&2"}, 0, `[i-evil\x1b[31m01\x1b]0;pwned\x07] hi`},
		{"exec fan-out -o json", []string{"-o", "json", "exec", "tag:evil=yes", "--", "echo hi"}, 0, `"instance_id":"i-evil\u009b2J02\u0085"`},
		{"run-command prefixes and cut line", []string{"exec", "--via", "run-command", "tag:evil=yes", "--", "head -c 30000 /dev/zero | tr '\\0' x; echo"}, 0,
			`ecsterm: i-evil\u202egnp03\u2066x\u2069: the service cut`},
		{"run-command -o json", []string{"-o", "json", "exec", "--via", "run-command", "tag:evil=yes", "--", "echo hi"}, 0, `\u2028sep04\u2029`},
		{"sessions table", []string{"sessions"}, 0, `i-evil\u202egnp03\u2066x\u2069`},
		{"sessions -o json", []string{"-o", "json", "sessions"}, 0, `i-evil\u009b2J02\u0085`},
		{"instances table", []string{"instances"}, 0, `i-evil\u202egnp03\u2066x\u2069`},
		{"instances -o json", []string{"-o", "json", "instances"}, 0, `i-evil\u009b2J02\u0085`},
		{"connect error line", []string{"connect", "tag:noagent=yes"}, 255, `i-evil\x1b[1m\u009b05\u202e`},
		{"connect --install-agent without a terminal", []string{"connect", "--install-agent", "tag:noagent=yes"}, 2, `i-evil\x1b[1m\u009b05\u202e`},
		{"ssh-config refusal", []string{"ssh-config", "tag:evil=yes"}, 255, `i-evil\x1b[31m01\x1b]0;pwned\x07`},
		{"ssh refusal", []string{"ssh", "tag:solo=yes"}, 255, "will not put on a command line: i-evil sep04"},
		{"doctor", []string{"doctor", "tag:noagent=yes"}, 255, `i-evil\x1b[1m\u009b05\u202e`},
	} {
		t.Run(tc.site, func(t *testing.T) {
			r := h.run("", tc.args...)
			if tc.code >= 0 && r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%q", r.code, tc.code, r.stderr)
			}
			checkClean(t, "stdout", r.stdout)
			checkClean(t, "stderr", r.stderr)
			if tc.want != "" && !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("output does not show %q:\nstdout %q\nstderr %q", tc.want, r.stdout, r.stderr)
			}
		})
	}

	// forward prints its listeners and then serves until interrupted.
	for _, tc := range []struct {
		site, want string
		json       bool
	}{
		{"forward via line", `via i-evil\u2028sep04\u2029\x0d`, false},
		{"forward -o json", `"instance":"i-evil\u2028sep04\u2029\r"`, true},
	} {
		t.Run(tc.site, func(t *testing.T) {
			args := []string{"forward", "tag:solo=yes", "-L", "0:80"}
			if tc.json {
				args = append([]string{"-o", "json"}, args...)
			}
			cmd := h.command(args...)
			out, errs := newScreen(), newScreen()
			cmd.Stdout, cmd.Stderr = out, errs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tc.json {
				out.waitFor(t, 0, "\n")
			} else {
				errs.waitFor(t, 0, "\n")
			}
			_ = cmd.Process.Signal(syscall.SIGINT)
			_ = cmd.Wait()
			checkClean(t, "stdout", out.String())
			checkClean(t, "stderr", errs.String())
			if !strings.Contains(out.String()+errs.String(), tc.want) {
				t.Errorf("output does not show %q:\nstdout %q\nstderr %q", tc.want, out.String(), errs.String())
			}
		})
	}

	t.Run("connect --install-agent prompt", func(t *testing.T) {
		tm := newTerminal(t, 24, 80)
		cmd := h.command("connect", "--install-agent", "tag:noagent=yes")
		tm.start(t, cmd)
		tm.scr.waitFor(t, 0, "[y/N] ")
		tm.typeIn("n\r")
		_ = cmd.Wait()
		shown := strings.ReplaceAll(tm.scr.String(), "\r\n", "\n") // the terminal's own line ends
		checkClean(t, "terminal", shown)
		if want := `Install the Cloud Assistant agent on i-evil\x1b[1m\u009b05\u202e (name\x1b[2J\u202e\u2028\u009b)?`; !strings.Contains(shown, want) {
			t.Errorf("terminal does not show %q: %q", want, shown)
		}
		if n := h.emu.Calls("InstallCloudAssistant"); n != 0 {
			t.Errorf("%d InstallCloudAssistant calls after no", n)
		}
	})
}
