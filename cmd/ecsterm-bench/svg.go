package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"sort"
	"strings"

	"github.com/ecsterm/ecsterm/internal/bench"
)

// The chart: one SVG, hand-written, with a panel per measurement. Latencies are box plots of
// every sample (box p25–p75, bar at the median, whiskers p10–p90, dot at p99); throughputs are
// bars at the median with p10–p90 whiskers. A raw TCP bar far beyond the rest is cut at the edge
// and labelled, so that the contenders that matter keep a readable scale.

const (
	svgWidth  = 1000
	plotLeft  = 300 // labels to the left
	plotRight = 860 // values to the right
	rowHeight = 26
)

var kindColor = map[string]string{
	"ecsterm-plain": "#4c78a8",
	"ecsterm-TLS":   "#f58518",
	"ssh":           "#54a24b",
	"raw":           "#9d9d9d",
	"pty":           "#b279a2",
}

// scale maps values to x positions.
type scale struct {
	lo, hi float64
	log    bool
}

func (s scale) x(v float64) float64 {
	var f float64
	if s.log {
		v = math.Max(v, s.lo)
		f = (math.Log10(v) - math.Log10(s.lo)) / (math.Log10(s.hi) - math.Log10(s.lo))
	} else {
		f = (v - s.lo) / (s.hi - s.lo)
	}
	f = math.Max(0, math.Min(1, f))
	return plotLeft + f*(plotRight-plotLeft)
}

// ticks returns round values across the scale: 1-2-5 steps.
func (s scale) ticks() []float64 {
	var out []float64
	if s.log {
		for e := math.Floor(math.Log10(s.lo)); e <= math.Ceil(math.Log10(s.hi)); e++ {
			for _, m := range []float64{1, 2, 5} {
				if v := m * math.Pow(10, e); v >= s.lo*0.999 && v <= s.hi*1.001 {
					out = append(out, v)
				}
			}
		}
		return out
	}
	step := niceStep((s.hi - s.lo) / 5)
	for v := math.Ceil(s.lo/step) * step; v <= s.hi*1.0001; v += step {
		out = append(out, v)
	}
	return out
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func (rep *report) svg() []byte {
	var body bytes.Buffer
	y := 70.0
	for _, p := range rep.Panels {
		y = drawPanel(&body, p, y) + 28
	}
	var b bytes.Buffer
	height := int(y) + 10
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`+"\n", svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	m := rep.Machine
	text(&b, 20, 24, "start", "font-size=\"16\" font-weight=\"bold\"", "ecsterm-bench: ecsterm vs OpenSSH and raw TCP, loopback, one run")
	text(&b, 20, 42, "start", `fill="#555"`, fmt.Sprintf("%s, %d cores, Linux %s, %s, %s; %s; %d runs", m.CPU, m.Cores, m.Kernel, m.Go, m.OpenSSH, rep.Started.Format("2006-01-02"), rep.Runs))
	lx := 20.0
	for _, k := range []struct{ kind, label string }{{"ecsterm-plain", "ecsterm, plain emulator"}, {"ecsterm-TLS", "ecsterm, TLS emulator"}, {"ssh", "OpenSSH"}, {"pty", "PTY alone"}, {"raw", "raw loopback TCP"}} {
		fmt.Fprintf(&b, `<rect x="%.0f" y="50" width="12" height="12" fill="%s"/>`+"\n", lx, kindColor[k.kind])
		text(&b, lx+16, 60, "start", "", k.label)
		lx += 30 + float64(len(k.label))*6.5
	}
	b.Write(body.Bytes())
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// drawPanel draws p from y down and returns where it ends.
func drawPanel(b *bytes.Buffer, p panel, y float64) float64 {
	text(b, 20, y+14, "start", `font-weight="bold"`, p.Title)
	y += 24
	sc := panelScale(p)
	top := y
	y += float64(len(p.Series)) * rowHeight
	for _, v := range sc.ticks() {
		x := sc.x(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", x, top, x, y)
		text(b, x, y+14, "middle", `fill="#555" font-size="10"`, fmtTick(v))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>`+"\n", plotLeft, y, plotRight, y)
	for i, s := range p.Series {
		cy := top + float64(i)*rowHeight + rowHeight/2
		text(b, plotLeft-8, cy+4, "end", "", s.Label)
		color := kindColor[s.Kind]
		if color == "" {
			color = "#777"
		}
		st := bench.SummariseValues(p.Unit, s.Values)
		if st.N == 0 {
			continue
		}
		if p.Bars {
			drawBar(b, sc, st, cy, color, p.Unit)
		} else {
			drawBox(b, sc, s.Values, cy, color, p.Unit)
		}
	}
	return y + 18
}

// panelScale fits the panel's values: log scales span every sample; linear latency scales
// start at zero and reach the largest p99; bar scales reach the largest p90 but raw TCP's.
func panelScale(p panel) scale {
	lo, hi := math.Inf(1), 0.0
	for _, s := range p.Series {
		st := bench.SummariseValues(p.Unit, s.Values)
		if st.N == 0 {
			continue
		}
		switch {
		case p.Bars && s.Kind != "raw":
			hi = math.Max(hi, st.P90)
		case !p.Bars:
			lo, hi = math.Min(lo, st.Min), math.Max(hi, st.P99)
		}
	}
	if hi == 0 { // only raw TCP, or nothing
		for _, s := range p.Series {
			hi = math.Max(hi, bench.SummariseValues(p.Unit, s.Values).P90)
		}
	}
	if hi <= 0 {
		hi = 1
	}
	if p.Log {
		lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, hi/1e4))))
		hi = math.Pow(10, math.Ceil(math.Log10(hi)))
		return scale{lo: lo, hi: hi, log: true}
	}
	return scale{lo: 0, hi: niceStep(hi*1.1/5) * 5}
}

func drawBox(b *bytes.Buffer, sc scale, values []float64, cy float64, color, unit string) {
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	q := func(p float64) float64 { return bench.Quantile(v, p) }
	x10, x25, x50, x75, x90, x99 := sc.x(q(0.1)), sc.x(q(0.25)), sc.x(q(0.5)), sc.x(q(0.75)), sc.x(q(0.9)), sc.x(q(0.99))
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x10, cy, x90, cy, color)
	for _, x := range []float64{x10, x90} {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x, cy-5, x, cy+5, color)
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="16" fill="%s" fill-opacity="0.35" stroke="%s"/>`+"\n", x25, cy-8, math.Max(x75-x25, 1), color, color)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", x50, cy-8, x50, cy+8, color)
	fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x99, cy, color)
	text(b, plotRight+8, cy+4, "start", `fill="#333"`, fmt.Sprintf("%s %s, p99 %s", fmtValue(q(0.5), unit), unit, fmtValue(q(0.99), unit)+" "+unit))
}

func drawBar(b *bytes.Buffer, sc scale, st bench.Stats, cy float64, color, unit string) {
	x0, xm := sc.x(0), sc.x(st.Median)
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="16" fill="%s"/>`+"\n", x0, cy-8, math.Max(xm-x0, 1), color)
	label := fmt.Sprintf("%s %s", fmtValue(st.Median, unit), unit)
	if st.Median > sc.hi {
		label += " (off scale)"
		fmt.Fprintf(b, `<path d="M%.1f %.1f l6 6 l-6 6 z" fill="#fff"/>`+"\n", xm-6, cy-6)
	} else if st.N > 1 {
		x10, x90 := sc.x(st.P10), sc.x(st.P90)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`+"\n", x10, cy, x90, cy)
		for _, x := range []float64{x10, x90} {
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`+"\n", x, cy-4, x, cy+4)
		}
	}
	text(b, plotRight+8, cy+4, "start", `fill="#333"`, label)
}

func text(b *bytes.Buffer, x, y float64, anchor, attrs, s string) {
	if attrs != "" {
		attrs = " " + attrs
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>`+"\n", x, y, anchor, attrs, html.EscapeString(s))
}

func fmtTick(v float64) string {
	s := fmt.Sprintf("%g", v)
	if strings.Contains(s, "e") {
		s = fmt.Sprintf("%.0f", v)
	}
	return s
}
