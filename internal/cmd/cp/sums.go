package cp

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ecsterm/ecsterm/internal/text"
)

// sums maps a file's slash-separated path, relative to the copied directory, to its SHA-256
// in hex: what `find . -type f -exec sha256sum {} +` lists.
type sums map[string]string

// sumsEscaper escapes a name as GNU sha256sum does; busybox's does not understand it, but a
// name that needs it then fails the check instead of passing it.
var sumsEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// marshal writes s in sha256sum's format, sorted by name, for `sha256sum -c`.
func (s sums) marshal() []byte {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		if strings.ContainsAny(n, "\\\n") {
			b.WriteString(`\` + s[n] + "  " + sumsEscaper.Replace(n) + "\n")
		} else {
			b.WriteString(s[n] + "  " + n + "\n")
		}
	}
	return []byte(b.String())
}

// parseSums reads sha256sum's output, GNU escapes included.
func parseSums(b []byte) (sums, error) {
	out := sums{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" {
			continue
		}
		escaped := strings.HasPrefix(line, `\`)
		if escaped {
			line = line[1:]
		}
		if len(line) < 66 || !isHexSum(line[:64]) || line[64] != ' ' || (line[65] != ' ' && line[65] != '*') {
			return nil, fmt.Errorf("malformed checksum line %q", text.OneLine(line))
		}
		name := line[66:]
		if escaped {
			name = unescapeSumName(name)
		}
		n, err := entryName(name)
		if err != nil {
			return nil, err
		}
		out[n] = line[:64]
	}
	return out, nil
}

func unescapeSumName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\\':
				b.WriteByte('\\')
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHexSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// compare reports the first difference between what was written and what the sender listed.
func (s sums) compare(want sums) error {
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		got, ok := s[n]
		switch {
		case !ok:
			return fmt.Errorf("%s is listed by the instance but was not in the archive (did the tree change during the copy?)", n)
		case got != want[n]:
			return fmt.Errorf("checksum mismatch: %s: the instance has %s, received %s", n, want[n], got)
		}
	}
	if len(s) != len(want) {
		for n := range s {
			if _, ok := want[n]; !ok {
				return fmt.Errorf("%s was in the archive but is not listed by the instance (did the tree change during the copy?)", n)
			}
		}
	}
	return nil
}
