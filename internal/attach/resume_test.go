package attach

import (
	"strings"
	"testing"
)

func TestStatusLine(t *testing.T) {
	lost := func(n int) string {
		return "connection lost; reconnecting (attempt " + string(rune('0'+n)) + " of 8)…"
	}
	for _, tc := range []struct {
		name    string
		inPlace bool
		msgs    []string
		want    string
	}{
		{"terminal: one line, rewritten, ended by reconnected", true,
			[]string{lost(1), lost(2), "reconnected"},
			"\necsterm: " + lost(1) + "\r\x1b[Kecsterm: " + lost(2) + "\r\x1b[Kecsterm: reconnected\n"},
		{"terminal: giving up clears the line for the error", true,
			[]string{lost(1), "gave up after 1 attempts: refused"},
			"\necsterm: " + lost(1) + "\r\x1b[K"},
		{"terminal: a second episode opens a new line", true,
			[]string{lost(1), "reconnected", lost(1), "reconnected"},
			"\necsterm: " + lost(1) + "\r\x1b[Kecsterm: reconnected\n\necsterm: " + lost(1) + "\r\x1b[Kecsterm: reconnected\n"},
		{"pipe: a line each, the give-up left to the error", false,
			[]string{lost(1), lost(2), "gave up after 2 attempts: refused"},
			"ecsterm: " + lost(1) + "\necsterm: " + lost(2) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			l := &statusLine{w: &b, inPlace: tc.inPlace}
			for _, m := range tc.msgs {
				l.show(m)
			}
			if b.String() != tc.want {
				t.Fatalf("wrote %q\nwant  %q", b.String(), tc.want)
			}
		})
	}
	(&statusLine{}).show(lost(1)) // no writer: nothing, and no panic
}

func TestPacedNotice(t *testing.T) {
	for bps, want := range map[uint64]string{
		204800:   "200 Kibit/s = 25.0 KiB/s",
		8192:     "8 Kibit/s = 1.0 KiB/s",
		20971520: "20.0 Mibit/s = 2.50 MiB/s",
	} {
		if got := FormatRate(bps); got != want {
			t.Errorf("FormatRate(%d) = %q, want %q", bps, got, want)
		}
	}
	var b strings.Builder
	tell := PacedNotice(&b, "\r\x1b[K", "\n")
	tell(204800)
	tell(204800) // another session of the same command: said once
	if want := "\r\x1b[Kecsterm: the service limits this session's input to 200 Kibit/s = 25.0 KiB/s (its Stream status, read as bits/s as Alibaba's client does); uploads are paced to it\n"; b.String() != want {
		t.Errorf("notice %q, want %q", b.String(), want)
	}
	if PacedNotice(nil, "", "\n") != nil {
		t.Error("PacedNotice(nil) should say nothing (-q)")
	}
}
