package cmdutil

import (
	"strings"
	"testing"
)

func TestWriteTableAndTSV(t *testing.T) {
	rows := [][]string{{"i-a", "web-01", "Running"}, {"i-bbbbbb", "-", "Stopped"}}
	var tb strings.Builder
	if err := WriteTable(&tb, []string{"ID", "NAME", "STATE"}, rows); err != nil {
		t.Fatal(err)
	}
	wantTable := "ID        NAME    STATE\ni-a       web-01  Running\ni-bbbbbb  -       Stopped\n"
	if tb.String() != wantTable {
		t.Errorf("table:\n%q\nwant\n%q", tb.String(), wantTable)
	}
	var sb strings.Builder
	if err := WriteTSV(&sb, rows); err != nil {
		t.Fatal(err)
	}
	if want := "i-a\tweb-01\tRunning\ni-bbbbbb\t-\tStopped\n"; sb.String() != want {
		t.Errorf("tsv %q, want %q", sb.String(), want)
	}
}
