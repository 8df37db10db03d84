package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsterm/ecsterm/internal/bench"
)

// TestBenchmarksRun runs the whole suite with -quick and checks that every section produced its
// rows and that the three outputs are well formed. It checks no figure: timings belong in the
// report, side by side, never in a threshold here.
func TestBenchmarksRun(t *testing.T) {
	if testing.Short() {
		t.Skip("the quick suite takes about a minute: skipped with -short")
	}
	dir := t.TempDir()
	md, js, svg := filepath.Join(dir, "bench.md"), filepath.Join(dir, "bench.json"), filepath.Join(dir, "bench.svg")
	cfg, err := parseFlags([]string{"-quick", "-md", md, "-json", js, "-svg", svg}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out, progress bytes.Buffer
	cfg.stdout, cfg.progress = &out, &progress
	rep, err := run(cfg)
	if errors.Is(err, bench.ErrNoSSHD) {
		t.Skipf("no reference to compare with: %v", err)
	}
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}

	// Every section, for both transports, with its reference beside it.
	want := map[string]bool{}
	for _, tr := range []string{"plain", "TLS"} {
		for _, m := range []string{"exec -- true, wall time, agent delay 0", "connect, start to the prompt's first byte, agent delay 0",
			"keystroke echo p50", "keystroke echo p99", "exec -- cat 4 MiB > /dev/null", "client CPU per GiB, exec -- cat",
			"forward -L, 1 connection", "forward -L, 8 connections", "client CPU per GiB, forward -L (all runs)",
			"peak RSS, connect (echo session)", "peak RSS, exec -- cat", "peak RSS, forward -L (all runs, up to 8 connections)"} {
			want[m+"|"+tr] = true
		}
	}
	// Bulk also against ssh through a remote PTY, the only channel the agent has.
	for _, tr := range []string{"plain", "TLS"} {
		want["exec -- cat 4 MiB > /dev/null|"+tr+"|ssh -tt, raw remote PTY"] = true
	}
	for _, r := range rep.Rows {
		delete(want, r.Metric+"|"+r.Transport)
		delete(want, r.Metric+"|"+r.Transport+"|"+r.RefName)
		if r.Ecsterm.N == 0 {
			t.Errorf("%s (%s): no measurements", r.Metric, r.Transport)
		}
		if strings.Contains(r.Metric, "realistic") {
			continue
		}
		if r.Reference == nil || r.Reference.N == 0 || r.Ratio <= 0 {
			t.Errorf("%s (%s): no reference figure from the same run", r.Metric, r.Transport)
		}
		if r.Aim != nil && r.Verdict != "met" && !strings.HasPrefix(r.Verdict, "missed by ") {
			t.Errorf("%s (%s): aim %q has verdict %q", r.Metric, r.Transport, r.Aim.Text, r.Verdict)
		}
	}
	for m := range want {
		t.Errorf("no row for %s", m)
	}

	mdBytes, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mdBytes, out.Bytes()) || !bytes.Contains(mdBytes, []byte("| section | metric |")) || !bytes.Contains(mdBytes, []byte("Aims: ")) {
		t.Errorf("markdown report is not the table printed:\n%s", mdBytes)
	}
	var back report
	if b, err := os.ReadFile(js); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	if len(back.Rows) != len(rep.Rows) || back.Machine.Cores == 0 || len(back.Panels) == 0 {
		t.Errorf("JSON report: %d rows (want %d), machine %+v, %d panels", len(back.Rows), len(rep.Rows), back.Machine, len(back.Panels))
	}
	checkSVG(t, svg, len(rep.Panels))
}

// checkSVG parses the chart as XML and counts its panels' titles.
func checkSVG(t *testing.T, path string, panels int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	root, titles := "", 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			for _, a := range se.Attr {
				if a.Name.Local == "font-weight" && a.Value == "bold" && se.Name.Local == "text" {
					titles++
				}
			}
		}
	}
	if root != "svg" || titles != panels+1 { // +1: the chart's own title
		t.Errorf("SVG: root <%s>, %d bold titles, want <svg> and %d", root, titles, panels+1)
	}
}

func TestParseFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		ok   bool
		size int64
		runs int
	}{
		{nil, true, 256 << 20, 10},
		{[]string{"-size", "64M", "-runs", "3"}, true, 64 << 20, 3},
		{[]string{"-size", "1GiB"}, true, 1 << 30, 10},
		{[]string{"-size", "4096"}, true, 4096, 10},
		{[]string{"-quick"}, true, 4 << 20, 2},
		{[]string{"-size", "12"}, false, 0, 0},   // not split evenly over 8 connections
		{[]string{"-size", "lots"}, false, 0, 0}, // not a size
		{[]string{"-tls", "maybe"}, false, 0, 0},
		{[]string{"-only", "startup,nope"}, false, 0, 0},
		{[]string{"-runs", "0"}, false, 0, 0},
		{[]string{"extra"}, false, 0, 0},
	} {
		cfg, err := parseFlags(tt.args, io.Discard)
		if (err == nil) != tt.ok {
			t.Errorf("parseFlags(%q): err %v, want ok=%v", tt.args, err, tt.ok)
			continue
		}
		if tt.ok && (cfg.size != tt.size || cfg.runs != tt.runs) {
			t.Errorf("parseFlags(%q): size %d runs %d, want %d %d", tt.args, cfg.size, cfg.runs, tt.size, tt.runs)
		}
	}
	cfg, _ := parseFlags([]string{"-only", "bulk, echo"}, io.Discard)
	if !cfg.wants("bulk") || !cfg.wants("echo") || cfg.wants("startup") {
		t.Errorf("-only bulk, echo: sections %v", cfg.only)
	}
}

func TestVerdicts(t *testing.T) {
	stats := func(median, max float64) bench.Stats { return bench.Stats{N: 3, Median: median, Max: max} }
	for _, tt := range []struct {
		aim   *aim
		ratio float64
		value bench.Stats
		want  string
	}{
		{atMost(0.5, "ssh"), 0.5, bench.Stats{}, "met"},
		{atMost(0.5, "ssh"), 0.6, bench.Stats{}, "missed by 20%"},
		{atMost(1, "ssh"), 1.013, bench.Stats{}, "missed by 2%"}, // rounded up: never "missed by 0%"
		{atMost(1, "ssh"), 1.0018, bench.Stats{}, "missed by 0.2%"},
		{atLeast(1, "ssh"), 0.99999, bench.Stats{}, "missed by 0.1%"},
		{atLeast(1, "ssh"), 1.2, bench.Stats{}, "met"},
		{atLeast(1, "ssh"), 0.75, bench.Stats{}, "missed by 25%"},
		{rssAim, 0, stats(20, 29.9), "met"},
		{rssAim, 0, stats(20, 33), "missed by 10%"}, // the worst run counts
	} {
		if got := tt.aim.verdict(row{Ratio: tt.ratio, Ecsterm: tt.value}); got != tt.want {
			t.Errorf("%s at ratio %v, value %+v: %q, want %q", tt.aim.Text, tt.ratio, tt.value, got, tt.want)
		}
	}
}
