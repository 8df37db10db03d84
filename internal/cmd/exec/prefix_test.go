package exec

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrefixWriterLines(t *testing.T) {
	var b bytes.Buffer
	p := newPrefixWriter(&b, "i-\x1b[2Jx\u009b")
	for _, s := range []string{"one\ntw", "o\n", "three"} {
		if n, err := p.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	p.Flush()
	want := "[i-\\x1b[2Jx\\u009b] one\n[i-\\x1b[2Jx\\u009b] two\n[i-\\x1b[2Jx\\u009b] three\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// An instance that writes without a newline does not make ecsterm hold all of it: past
// maxLine, the line so far goes out, and the rest follows on a line of its own.
func TestPrefixWriterBoundsALine(t *testing.T) {
	var b bytes.Buffer
	p := newPrefixWriter(&b, "i-x")
	chunk := []byte(strings.Repeat("x", 4096))
	for range 4 * maxLine / len(chunk) {
		if _, err := p.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if len(p.part) > maxLine {
			t.Fatalf("holding %d bytes of one line, more than %d", len(p.part), maxLine)
		}
	}
	p.Flush()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) < 4 {
		t.Fatalf("%d lines, want the long line cut into at least 4", len(lines))
	}
	total := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "[i-x] x") {
			t.Fatalf("line %.20q... has no prefix", l)
		}
		total += len(l) - len("[i-x] ")
	}
	if total != 4*maxLine {
		t.Errorf("%d bytes came out, want %d", total, 4*maxLine)
	}
}
