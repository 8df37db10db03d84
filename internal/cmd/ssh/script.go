package ssh

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The scripts below run on the instance, through an exec session as the login user, with sh.
// They print one fact per line on stdout; the client reads nothing else from them.

// prelude finds the user, their home and authorized_keys, and defines edit, which rewrites
// authorized_keys without ecsterm's keys that have expired (and without the key of id $1), then
// appends $2. It writes a temporary file beside the original, copied with cp -p so that it keeps
// the mode, and renames it into place only if the original did not change meanwhile (its cksum),
// so that an edit made at the same time is not lost: it is retried on the new content instead.
// A symbolic link is followed, not replaced.
const prelude = `umask 077
u=$(id -un)||exit 90
printf 'user %s\n' "$u"
h=${HOME:-}
[ -n "$h" ]||h=$(getent passwd "$u" 2>/dev/null|cut -d: -f6)
[ -n "$h" ]&&[ -d "$h" ]||exit 93
d=$h/.ssh
a=$d/authorized_keys
[ -L "$a" ]&&a=$(readlink -f "$a")
edit(){
i=0
while :;do
[ -e "$a" ]||{ [ -d "$d" ]||mkdir -m 700 "$d";:>"$a"&&chmod 600 "$a";}||return 1
t=$(mktemp "$(dirname "$a")/.ecsterm.XXXXXX")||return 1
c=$(cksum <"$a")
cp -p "$a" "$t" 2>/dev/null
awk -v now="$(date +%s)" -v id="$1" '{if(match($0,/ecsterm-ephemeral-[0-9a-f]+-[0-9]+[ \t\r]*$/)){s=substr($0,RSTART+18,RLENGTH-18);sub(/[ \t\r]+$/,"",s);j=index(s,"-");if(substr(s,1,j-1)==id||substr(s,j+1)+0<now+0)next}print}' "$a" >"$t"||{ rm -f "$t";return 1;}
[ -z "$2" ]||printf '%s\n' "$2" >>"$t"||{ rm -f "$t";return 1;}
if [ "$(cksum <"$a")" = "$c" ];then mv -f "$t" "$a"&&return 0;fi
rm -f "$t";i=$((i+1));[ $i -lt 5 ]||return 1
done
}
`

// Exit statuses of the scripts, each with its explanation (errorFor).
const (
	exitNoUser      = 90
	exitNoHostKeys  = 91
	exitNotListened = 92
	exitNoHome      = 93
	exitEdit        = 94
)

// installScript checks that an SSH server can be reached (host keys in /etc/ssh, something
// listening on port, where /proc says so), prints the host keys, and installs pub for the
// session's user with an expiry ttl ahead of the instance's clock. utcExpiry is the expiry as
// this machine computes it, for an instance whose date cannot do the arithmetic (date -d @N is
// GNU and busybox).
func installScript(pub, id string, port int, ttl time.Duration, utcExpiry string) string {
	return prelude + `n=0
for f in /etc/ssh/ssh_host_*_key.pub;do [ -f "$f" ]&&[ -r "$f" ]||continue;printf 'hostkey ';head -c 4096 "$f"|head -n 1|tr -d '\r\n';echo;n=$((n+1));done
[ $n -gt 0 ]||exit 91
l=unknown
if [ -r /proc/net/tcp ];then if grep -qE '^ *[0-9]+: [0-9A-F]+:` + fmt.Sprintf("%04X", port) + ` [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null;then l=yes;else l=no;fi;fi
printf 'listening %s\n' "$l"
[ $l != no ]||exit 92
e=$(($(date +%s)+` + strconv.Itoa(int(ttl.Seconds())) + `))
x=$(date -d "@$e" +%Y%m%d%H%M%S 2>/dev/null)||x=` + utcExpiry + `
edit '' "expiry-time=\"$x\" ` + pub + ` ecsterm-ephemeral-` + id + `-$e"||exit 94
echo installed
`
}

// removeScript removes the key of id, and any of ecsterm's keys that have expired.
func removeScript(id string) string {
	return prelude + `[ -e "$a" ]||{ echo removed;exit 0;}
edit ` + id + ` ''||exit 94
echo removed
`
}

// report is what the install script found on the instance.
type report struct {
	User      string
	HostKeys  []string // validated, "type base64"
	Listening string   // yes, no or unknown
	Installed bool
	Rejected  int // host key lines that did not validate
}

// userRe is what is accepted as a login name from the instance (it becomes ssh's -l).
var userRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}\$?$`)

// parseReport reads the install script's stdout.
func parseReport(out []byte) report {
	var r report
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxHostKeyLine+64)
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), " ")
		switch key {
		case "user":
			if userRe.MatchString(val) {
				r.User = val
			}
		case "hostkey":
			if k, err := parseHostKey(val); err == nil {
				r.HostKeys = append(r.HostKeys, k)
			} else {
				r.Rejected++
			}
		case "listening":
			r.Listening = val
		case "installed":
			r.Installed = true
		}
	}
	return r
}
