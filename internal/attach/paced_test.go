package attach

import (
	"strings"
	"testing"
)

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
