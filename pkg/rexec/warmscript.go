package rexec

import (
	"fmt"
	"strconv"
	"strings"
)

// warmReady is printed by the warm loop each time it waits for the next script.
const warmReady = "\x1eecsterm-warm\n"

// WarmBootstrap is the CommandLine of a warm session. Like Bootstrap it must stay within the
// API's 512 characters and use only POSIX sh, stty and head. It makes the PTY raw and then, for
// as long as the session lasts, prints the ready marker, reads an eight-digit length and
// evaluates that many bytes of script in the loop's own shell. A length that is not eight
// digits ends the loop, and so the session, rather than evaluate whatever follows.
//
// Nothing on the instance reads the PTY with the shell's read builtin: bash (/bin/sh on many
// distributions) reads a terminal in blocks and loses what it read past the line. Every read
// is head -c of a length known in advance, so every frame from the client has a fixed-size
// header.
const WarmBootstrap = `sh -c 'stty raw -echo -iexten||exit 97;while printf '"'"'\036ecsterm-warm\n'"'"'&&n=$(head -c 8)&&[ ${#n} = 8 ];do case $n in *[!0-9]*)exit 96;;esac;eval "$(head -c "$n")";done'`

// defaultGrace is the seconds between SIGTERM and SIGKILL when a warm command is stopped, as
// the cold script waits.
const defaultGrace = 5

// The kinds of frame the client sends during a warm command: a letter, then eight digits
// (a length, zero but for stdin chunks).
const (
	warmStdin     = 'd' // n bytes of stdin follow
	warmEOF       = 'z' // stdin's end of file
	warmInterrupt = 'i' // stop the command
	warmEnd       = 'e' // the trailer is in; nothing more for this command
)

// warmHeader returns the header of a warm frame.
func warmHeader(kind byte, n int) []byte {
	return fmt.Appendf(nil, "%c%08d", kind, n)
}

// warmScriptHeader returns the length that precedes a warm script.
func warmScriptHeader(n int) []byte {
	return fmt.Appendf(nil, "%08d", n)
}

// warmScript returns the script of one warm command. It runs in the loop's shell (L), with
// its stderr sent to /dev/null from here on (the shell's job notices would land in the output)
// and the PTY kept as fd 3 for the decoder. Job control is on only while the command's job is
// started, so that it gets a process group of its own, which an interrupt can stop without
// stopping the loop: with job control on, a shell such as dash also runs each command
// substitution as a foreground job of its own, which would take the terminal from the decoder.
//
//   - L makes a private directory (mktemp -d) with the FIFO i, the stderr file e and the
//     status file s. Without one it answers status 255 with noTempDir, skips the command's
//     frames up to the end frame and goes back to the loop: the command does not run.
//   - The command runs as a background job (its own process group, g): stdin from the FIFO,
//     stderr to e, stdout through cat to the PTY. Its subshells trap HUP, INT and TERM (a
//     trap is not inherited) so that the job ends only after the command has, and records the
//     command's status in s whatever stops it (but SIGKILL); cat ignores INT and TERM so that
//     the output the command writes while it stops still arrives.
//   - The decoder (D) runs with job control off, in L's process group, which owns the
//     terminal: it reads the PTY. It holds the FIFO open as fd 4 and reads frame headers:
//     a stdin chunk is copied to the FIFO, or, once the command has closed it, to /dev/null,
//     so that exactly the chunk is read whatever the command does; the end of file closes the
//     FIFO; an interrupt stops group g: SIGTERM (and SIGCONT), then a killer sends SIGKILL
//     after the grace; the end frame ends D. When the terminal goes away (the session ended)
//     D stops group g as the cold decoder stops its group: SIGTERM, the grace, the directory
//     removed, SIGKILL. D's trap on HUP (not an ignore, so head does not inherit it) keeps D
//     alive when the session's process group is hung up.
//   - L waits for group g's job, prints the trailer (the status from s, or the job's own
//     status when the command's subshell was killed before it could write s) and stderr,
//     waits for D to reach the end frame, removes the directory and returns to the loop.
//   - A hangup of L (its trap z) passes SIGHUP to group g, waits for the job (which D's
//     sequence ends within the grace), removes the directory and exits, so that the session's
//     process is reaped only after the command has ended, as with the cold script. The trap is
//     set before mktemp runs and $t emptied first, as in the cold script.
func warmScript(command, nonce string, grace int) string {
	gr := strconv.Itoa(grace)
	// h=$(head -c 9): the next frame's header; a short one means the terminal is gone.
	next := `h=$(head -c 9)&&[ ${#h} = 9 ]`
	return strings.Join([]string{
		`exec 3<&0 2>/dev/null`,
		`t= g= d=`,
		`z(){ trap '' HUP INT TERM;if [ -n "$g" ];then kill -HUP -$g;wait $g;fi;if [ -n "$t" ];then rm -rf "$t";fi;exit 129;}`,
		`trap z HUP INT TERM`,
		`if t=$(mktemp -d)&&[ -n "$t" ]&&mkfifo "$t/i"&&: >"$t/e";then`,
		`set -m`,
		`(trap : HUP INT TERM;{ trap : HUP INT TERM;"${SHELL:-/bin/sh}" -c ` + quote(command) + ` <"$t/i" 2>"$t/e" 3<&-;echo $? >"$t/s";}|(trap '' INT TERM;exec cat))&`,
		`g=$!`,
		`set +m`,
		`(trap : HUP;exec 4>"$t/i";while ` + next + `;do case $h in ` +
			`d*)head -c "${h#d}" 4>&-|{ cat >&4||cat >/dev/null;};;` +
			`z*)exec 4>&-;;` +
			`i*)kill -TERM -$g;kill -CONT -$g;(trap '' HUP;sleep ` + gr + `;kill -KILL -$g)4>&- &;;` +
			`e*)exit 0;;` +
			`*)break;;esac;done;` +
			`trap '' HUP;kill -TERM -$g;sleep ` + gr + `;rm -rf "$t";kill -KILL -$g)<&3 &`,
		`d=$!`,
		// Builtins where they will do: each process costs a warm command time.
		`wait $g;r=$?;if [ -s "$t/s" ];then read -r r <"$t/s";fi`,
		`if [ -s "$t/e" ];then n=$(wc -c <"$t/e");else n=0;fi`,
		`printf '\036` + nonce + ` %d %d\n' "$r" $n`,
		`if [ $n != 0 ];then cat "$t/e";fi`,
		`wait $d`,
		`else`,
		`m=` + quote(noTempDir) + `;printf '\036` + nonce + ` 255 %s\n%s' ${#m} "$m"`,
		`while ` + next + `;do case $h in d*)head -c "${h#d}" >/dev/null;;e*)break;;esac;done`,
		`fi`,
		`if [ -n "$t" ];then rm -rf "$t";fi`,
		`t= g=`,
		`trap - HUP INT TERM`,
	}, "\n") + "\n"
}
