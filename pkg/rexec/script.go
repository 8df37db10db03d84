// Package rexec runs one command on an instance through a session whose only channel is a PTY,
// and gets back what ssh gives: the command's exit status, byte-exact stdout and stdin with a
// real end of file, and stderr kept apart from stdout.
//
// The service carries no exit status, and its agent runs the session's CommandLine (at most 512
// characters, split with shell quoting, executed directly) on a PTY with default settings: echo,
// \n to \r\n, control characters interpreted, EOF only as ^D at the start of a line
// (docs/protocol.md §9, §10.1, §10.2). So the exchange is:
//
//  1. CommandLine is a fixed bootstrap of about 200 characters: it saves the PTY's settings,
//     puts the PTY in raw mode without echo, prints a ready marker, reads a length (eight
//     digits), then reads and evaluates that many bytes of script from its input.
//  2. The client sends the script. It holds the user's command, of any length, quoted, and a
//     nonce that is never in any process's arguments or environment.
//  3. Without a terminal, the script feeds the command's stdin from a FIFO that a decoder fills
//     from length-prefixed chunks (n as eight digits, then n bytes; "00000000" is end of
//     file); the command's stdout goes through a pipe to the raw PTY (so the command sees
//     pipes, as under ssh without -t), its stderr to a file. With -t, the PTY's settings are restored and the
//     command runs on it.
//  4. When the command ends the script prints the trailer "\x1e<nonce> <status> <n>\n" and then
//     n bytes of stderr. Output cannot forge the trailer: it does not know the nonce.
//
// The client writes stdout as it arrives, holding back only the few bytes that could begin the
// trailer, and ends the session once the trailer and stderr have arrived.
package rexec

import (
	"fmt"
	"strings"
)

// readyMarker is printed by the bootstrap once the PTY is raw; goMarker by a -t script once the
// PTY's own settings are back and the command is about to start.
const (
	readyMarker = "\x1eecsterm-ready\n"
	goMarker    = "\x1eecsterm-go\x1e"
)

// Bootstrap is the CommandLine of an exec session. It must stay short (the API takes 512
// characters) and use only POSIX sh, stty and head. The saved settings stay in $s for a -t
// script to restore. The script's length is eight decimal digits (frame); anything else ends
// the bootstrap rather than evaluate what follows.
//
// The PTY is read only with head -c of a length known in advance, never with the shell's read
// builtin: bash, /bin/sh on Alibaba Cloud Linux, CentOS and RHEL, reads a terminal in blocks
// and loses what it read past the line, here the script.
const Bootstrap = `sh -c 's=$(stty -g);stty raw -echo -iexten||exit 97;printf '"'"'\036ecsterm-ready\n'"'"';n=$(head -c 8);[ ${#n} = 8 ]||exit 96;case $n in *[!0-9]*)exit 96;;esac;eval "$(head -c "$n")"'`

// noTempDir is the stderr of a command that could not start because mktemp -d failed.
const noTempDir = "ecsterm: mktemp -d failed on the instance: the exec helper needs a private temporary directory there\n"

// quote returns s as one single-quoted sh word.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// script returns the second stage for command with nonce.
// With a terminal, rows and cols (when known) size the PTY before the command starts, as ssh
// does: a resize frame sent after the first output could otherwise arrive after the command
// has read the size.
func script(command, nonce string, tty bool, rows, cols uint16) string {
	shell := `"${SHELL:-/bin/sh}" -c ` + quote(command)
	if tty {
		size := ""
		if rows > 0 && cols > 0 {
			size = fmt.Sprintf("stty rows %d cols %d 2>/dev/null;", rows, cols)
		}
		// The command reads the terminal, so nothing else may; a watcher that ignores SIGHUP
		// (and the ^C and ^\ typed for the command) asks the terminal for its settings every
		// two seconds instead, which fails once the session's end has hung it up, and then
		// stops the process group it shares with the command, as the decoder does without -t.
		// fd 4 is the terminal (an asynchronous list's stdin would be /dev/null); only stty
		// holds it, so the watcher's sleep keeps no terminal open after the command ends.
		return `exec 4<&0;stty "$s";` + size +
			`(trap '' HUP INT QUIT;while stty -g <&4;do sleep 2 4<&-;done;trap '' TERM;kill -TERM 0;sleep 5;kill -KILL 0)>/dev/null 2>&1&w=$!;` +
			`printf '\036ecsterm-go\036';` + shell + ` 3<&- 4<&-;r=$?;kill $w 2>/dev/null;printf '\036` + nonce + ` %s 0\n' $r` + "\n"
	}
	// fd 3 keeps the PTY for the decoder: an asynchronous list's stdin would be /dev/null. The
	// directory for the FIFO and stderr comes from mktemp -d or not at all: a predictable name
	// in /tmp could be made first by another user of the instance. Without it, the script
	// answers with a trailer of its own (status 255, noTempDir as stderr). The directory goes
	// when the script exits, also on the SIGHUP the agent sends when the session ends (the
	// traps are set before mktemp runs, and $t emptied, so a hangup right after it made the
	// directory still removes it, and a t from the environment is never taken for it); the
	// command's subshell traps it too, so that the script ends only after the command has (and
	// the command's own cleanup, a cp script's, is done when the session's process is reaped).
	// A trap, unlike an ignored signal, is not inherited: the command gets the SIGHUP.
	//
	// The session's end must also end the command, and a command that ignores SIGHUP would
	// outlive it (the shell runs it in the script's process group, without job control, and
	// the script's own trap waits for it). So the decoder, which ignores SIGHUP, reads the PTY
	// after the input's end of file until the terminal goes away, then stops the process group
	// that it shares with the command: SIGTERM, five seconds for it to clean up (a cp script's
	// rm did not always finish within one on a loaded machine), the directory removed, SIGKILL.
	// When the command ends first, the script kills the decoder.
	//
	// The decoder reads each chunk's header (eight digits, frame) and the chunk with head -c, as
	// the bootstrap reads the script. Only the wait for the terminal to go away uses the read
	// builtin: the client sends nothing after the end of file, so whatever a shell such as bash
	// reads there in blocks and drops is nothing anyone needs.
	return strings.Join([]string{
		`exec 3<&0`,
		`t=`,
		`trap 'trap "" HUP INT TERM;if [ -n "$t" ];then rm -rf "$t";fi' EXIT`,
		`trap 'exit 129' HUP INT TERM`,
		`t=$(mktemp -d 2>/dev/null)||{ m=` + quote(noTempDir) + `;printf '\036` + nonce + ` 255 %s\n%s' ${#m} "$m";exit 98;}`,
		`mkfifo "$t/i"||exit 98`,
		`(trap '' HUP;while h=$(head -c 8)&&[ ${#h} = 8 ]&&[ "$h" != 00000000 ];do head -c "$h";done>"$t/i";while read -r l;do :;done;trap '' TERM;kill -TERM 0;sleep 5;rm -rf "$t";kill -KILL 0)<&3 &`,
		`d=$!`,
		`{ trap 'exit 129' HUP INT TERM;` + shell + ` <"$t/i" 2>"$t/e" 3<&-;echo $? >"$t/s";}|cat`,
		`kill $d 2>/dev/null`,
		`printf '\036` + nonce + ` %s %s\n' "$(cat "$t/s")" "$(wc -c <"$t/e"|tr -d ' ')"`,
		`cat "$t/e"`,
		`rm -rf "$t"`,
	}, "\n") + "\n"
}

// maxFrame is the largest length a frame's eight digits hold.
const maxFrame = 99999999

// frame returns the header that precedes the script or a chunk of stdin of n bytes (at most
// maxFrame): n as eight decimal digits, no newline. Zero is stdin's end of file.
func frame(n int) []byte {
	return fmt.Appendf(nil, "%08d", n)
}
