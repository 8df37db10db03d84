package cp

import (
	"fmt"
	"strings"
)

// The remote side of a copy is one POSIX sh script, run as `sh -c '<script>'` by the remote
// user's shell (so a fish or csh login shell does not parse it), and kept on one line for the
// same reason. It needs sh, cat, head -c, mktemp, mv, chmod, sha256sum and, for -r, tar and
// find: coreutils or busybox.
//
// Its stdout carries only what the protocol says: a download's header and data, or an
// upload's acknowledgement. Anything else there (a shell startup file that prints) is caught
// by the header check instead of ending up in a file. Its stderr carries messages, then, for a
// download, the marker sumsMarker and the SHA-256 sums. Exit status 4 is a checksum
// mismatch; any other non-zero status is some other failure, explained on stderr.

const (
	// headerMagic begins a download's header and an upload's acknowledgement.
	headerMagic = "ecsterm-cp "
	// sumsMarker separates messages from sums on a download's stderr.
	sumsMarker = "\x1eecsterm-sums\n"
	// statusMismatch is the scripts' exit status for a checksum mismatch.
	statusMismatch = 4
)

// Quote returns s as one single-quoted sh word: the remote shell takes it literally.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellPath returns a remote path as a sh word. Like scp, it expands a leading ~ (and the
// empty path) to the remote user's home directory; everything else is literal. A relative
// path that begins with - gets ./ before it, so that no tool the scripts run (dirname, cd,
// mv...) takes it for an option.
func ShellPath(p string) string {
	switch {
	case p == "" || p == "~":
		return `"$HOME"`
	case strings.HasPrefix(p, "~/"):
		return `"$HOME"/` + Quote(p[2:])
	case strings.HasPrefix(p, "-"):
		return Quote("./" + p)
	}
	return Quote(p)
}

// trimSlashes drops trailing slashes (not the root's) and reports whether there were any:
// a destination written dir/ must be a directory.
func trimSlashes(p string) (string, bool) {
	t := strings.TrimRight(p, "/")
	if t == "" && p != "" {
		return "/", false
	}
	return t, t != p
}

// shell wraps a script (a list of complete statements) for the remote user's shell.
func shell(statements ...string) string {
	return "sh -c " + Quote(strings.Join(statements, "; "))
}

// prologue makes ${#x}, sort orders and messages byte-wise and predictable, and keeps an
// exported CDPATH from sending cd (and the copy) elsewhere, and its path to stdout.
var prologue = []string{`LC_ALL=C`, `export LC_ALL`, `unset CDPATH`}

// downloadScript sends path: for a regular file the header
// "ecsterm-cp f <size> <mode> <name>\0", exactly size bytes, and "<sha256>  -" as sums; for a
// directory (only when recursive) "ecsterm-cp d -1 0 <name>\0", a tar of its contents, and
// `find . -type f -exec sha256sum {} +` as sums. Appended-to files (logs) copy consistently:
// the size is read once, and the data and its hash are the same first size bytes.
func downloadScript(path string, recursive bool) string {
	p, _ := trimSlashes(path)
	r := "0"
	if recursive {
		r = "1"
	}
	return shell(append(append([]string{}, prologue...),
		`p=`+ShellPath(p),
		`if [ -d "$p" ]; then `+
			`if [ `+r+` != 1 ]; then printf '%s: is a directory (use -r)\n' "$p" >&2; exit 3; fi; `+
			`cd "$p" || exit 3; n=${p##*/}; `+
			`printf 'ecsterm-cp d -1 0 %s\000' "$n"; `+
			`tar cf - . || exit 3; `+
			`printf '\036ecsterm-sums\n' >&2; `+
			`find . -type f -exec sha256sum {} + >&2 || exit 3; `+
			`elif [ -f "$p" ]; then `+
			`s=$(wc -c <"$p") || exit 3; s=$((s)); `+
			`m=$(stat -c %a "$p" 2>/dev/null) || m=644; n=${p##*/}; `+
			`printf 'ecsterm-cp f %s %s %s\000' "$s" "$m" "$n"; `+
			`head -c "$s" <"$p" || exit 3; `+
			`printf '\036ecsterm-sums\n' >&2; `+
			`head -c "$s" <"$p" | sha256sum >&2 || exit 3; `+
			`elif [ -e "$p" ]; then printf '%s: not a regular file or a directory\n' "$p" >&2; exit 3; `+
			`else printf '%s: No such file or directory\n' "$p" >&2; exit 3; fi`,
	)...)
}

// uploadFileScript receives a file of the given sha256 and mode on stdin. It writes it to a
// temporary file next to the destination, checks it, applies the mode (less the remote umask,
// as scp does for a new file) and moves it into place, then acknowledges with
// "ecsterm-cp ok <sha256> <final path>\0".
func uploadFileScript(dst, base, sum string, mode uint32) string {
	p, mustBeDir := trimSlashes(dst)
	d := "0"
	if mustBeDir {
		d = "1"
	}
	return shell(append(append([]string{}, prologue...),
		`p=`+ShellPath(p),
		`b=`+Quote(base),
		`h=`+sum,
		fmt.Sprintf(`m=%o`, mode&0o777),
		`if [ -d "$p" ]; then f="$p/$b"; elif [ `+d+` = 1 ]; then printf '%s: No such directory\n' "$p" >&2; exit 3; else f=$p; fi`,
		`if [ -d "$f" ]; then printf '%s: is a directory\n' "$f" >&2; exit 3; fi`,
		// The traps come first: a hangup right after mktemp has made the file still removes it.
		`t=`,
		`trap 'trap "" HUP INT TERM; if [ -n "$t" ]; then rm -f "$t"; fi' EXIT`,
		`trap 'exit 3' HUP INT TERM PIPE`,
		`t=$(mktemp "$(dirname "$f")/.ecsterm.XXXXXX") || exit 3`,
		`cat >"$t" || exit 3`,
		`s=$(sha256sum <"$t") || exit 3`,
		`s=${s%% *}`,
		`if [ "$s" != "$h" ]; then printf 'checksum mismatch: sent %s, the instance received %s; the destination is unchanged\n' "$h" "$s" >&2; exit 4; fi`,
		`chmod "$(printf %o $((0$m & ~0$(umask))))" "$t" || exit 3`,
		`mv -f "$t" "$f" || exit 3`,
		`printf 'ecsterm-cp ok %s %s\000' "$s" "$f"`,
	)...)
}

// uploadTreeScript receives a tar holding the tree under d/ and its sums in m. It extracts
// into a temporary directory next to the destination, checks every file with sha256sum -c,
// then moves the tree into place (or merges it into an existing directory, as cp -r does),
// and acknowledges with "ecsterm-cp ok <files> <final path>\0".
func uploadTreeScript(dst, base string) string {
	p, _ := trimSlashes(dst)
	return shell(append(append([]string{}, prologue...),
		`p=`+ShellPath(p),
		`b=`+Quote(base),
		`if [ -d "$p" ]; then f="$p/$b"; else f=$p; fi`,
		`if [ -e "$f" ] && [ ! -d "$f" ]; then printf '%s: exists and is not a directory\n' "$f" >&2; exit 3; fi`,
		`t=`,
		`trap 'trap "" HUP INT TERM; if [ -n "$t" ]; then rm -rf "$t"; fi' EXIT`,
		`trap 'exit 3' HUP INT TERM PIPE`,
		`t=$(mktemp -d "$(dirname "$f")/.ecsterm.XXXXXX") || exit 3`,
		`tar xof - -C "$t" || exit 3`,
		`if [ ! -d "$t/d" ] || [ ! -f "$t/m" ]; then printf 'the archive is incomplete\n' >&2; exit 3; fi`,
		`if [ -s "$t/m" ] && ! (cd "$t/d" && sha256sum -c ../m) >"$t/c" 2>&1; then printf 'checksum mismatch: %s; the destination is unchanged\n' "$(grep -v ': OK$' "$t/c" | head -n 1)" >&2; exit 4; fi`,
		`n=$(wc -l <"$t/m") || exit 3`,
		`n=$((n))`,
		`if [ -d "$f" ]; then (cd "$t/d" && tar cf - .) | tar xof - -C "$f" || exit 3; else mv "$t/d" "$f" || exit 3; fi`,
		`printf 'ecsterm-cp ok %s %s\000' "$n" "$f"`,
	)...)
}
