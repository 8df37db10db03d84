package cmdutil

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/text"
)

// hostile holds what the service or an instance might put in an ID or a name: C0 controls, an
// escape sequence, C1 controls (U+009B is a one-byte CSI), bidi overrides and isolates, the line
// and paragraph separators, and a format character beyond the BMP.
var hostile = []struct{ in, want string }{
	{"i-esc\x1b[2J\x1b]0;pwned\a", `i-esc\x1b[2J\x1b]0;pwned\x07`},
	{"i-c0\x00\x08\r\t", `i-c0\x00\x08\x0d\x09`},
	{"i-c1\u009b2J\u0085\u009d", `i-c1\u009b2J\u0085\u009d`},
	{"i-bidi\u202egnp.exe\u202c", `i-bidi\u202egnp.exe\u202c`},
	{"i-iso\u2066x\u2067y\u2068z\u2069", `i-iso\u2066x\u2067y\u2068z\u2069`},
	{"i-sep\u2028\u2029", `i-sep\u2028\u2029`},
	{"i-zw\u200b\u200d\ufeff", `i-zw\u200b\u200d\ufeff`},
	{"i-tag\U000e0041", `i-tag\U000e0041`},
}

// JSON records keep the strings as they were for a JSON reader, but no unsafe character reaches
// the terminal that shows them raw.
func TestJSONEncoderEscapes(t *testing.T) {
	for _, tc := range hostile {
		var b bytes.Buffer
		rec := map[string]string{"instance_id": tc.in, "name": "héllo 世界"}
		if err := NewJSONEncoder(&b).Encode(rec); err != nil {
			t.Fatal(err)
		}
		raw := b.String()
		if strings.ContainsFunc(raw, func(r rune) bool { return r != '\n' && text.Unsafe(r) }) {
			t.Errorf("JSON for %q holds an unsafe character: %q", tc.in, raw)
		}
		if !strings.Contains(raw, "héllo 世界") {
			t.Errorf("JSON %q escaped printable text", raw)
		}
		var back map[string]string
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || back["instance_id"] != tc.in {
			t.Errorf("JSON %q decodes to %q (%v), want %q", raw, back["instance_id"], err, tc.in)
		}
	}
}
