//go:build unix

package main

import (
	"fmt"
	"os/exec"
	"sort"
	"time"

	"github.com/ecsterm/ecsterm/internal/bench"
)

// The echo section: keystroke round trips through a whole session, as a person at a terminal
// sees them. Each contender (ecsterm connect through each emulator, ssh -tt to the private sshd)
// runs on its own PTY with bench.EchoCommand at the far end; the driver types one key into each
// in turn and times it until it comes back, -keys keys per session and run, with a fresh set of
// sessions every run. The table gives each run's p50 and p99, as medians over the runs with
// their spread; the chart pools every sample.

// echoWarmUp keystrokes per session are typed and not counted: the first ones meet cold caches.
const echoWarmUp = 5

// echoGap separates keystrokes, so that each one meets a quiet session, as typing does.
const echoGap = 2 * time.Millisecond

type echoContender struct {
	label, kind, transport string
	start                  func() *exec.Cmd
	p50, p99, all, rss     []float64
}

func echoSection(r *rig, rep *report) error {
	remote := "sh -c '" + bench.EchoCommand + "'"
	var cs []*echoContender
	for _, t := range r.trans {
		cs = append(cs, &echoContender{label: "ecsterm connect, " + t.name, kind: "ecsterm-" + t.name, transport: t.name,
			start: func() *exec.Cmd { return r.ecsterm(t, "connect", "--command", remote, inst) }})
	}
	ssh := &echoContender{label: "ssh -tt", kind: "ssh", start: func() *exec.Cmd { return r.ssh([]string{"-tt"}, remote) }}
	cs = append(cs, ssh)

	r.logf("echo: %d runs of %d keystrokes per session", r.cfg.runs, r.cfg.keys)
	for range r.cfg.runs {
		if err := echoRun(r, cs); err != nil {
			return err
		}
	}
	p := panel{Title: "Keystroke echo latency (ms, log scale), every sample", Unit: "ms", Log: true}
	for _, c := range cs {
		p.Series = append(p.Series, series{Label: c.label, Kind: c.kind, Values: c.all})
	}
	rep.Panels = append(rep.Panels, p)
	ref50, ref99 := bench.SummariseValues("ms", ssh.p50), bench.SummariseValues("ms", ssh.p99)
	for _, c := range cs[:len(cs)-1] {
		r50 := row{Section: "echo", Metric: "keystroke echo p50", Transport: c.transport, Ecsterm: bench.SummariseValues("ms", c.p50), RefName: "ssh -tt p50", Reference: &ref50}
		r99 := row{Section: "echo", Metric: "keystroke echo p99", Transport: c.transport, Ecsterm: bench.SummariseValues("ms", c.p99), RefName: "ssh -tt p99", Reference: &ref99}
		if c.transport == "TLS" {
			r50.Aim, r99.Aim = atMost(1, "ssh"), atMost(1, "ssh")
		}
		rep.add(r50)
		rep.add(r99)
	}
	refRSS := bench.SummariseValues("MB", ssh.rss)
	for _, c := range cs[:len(cs)-1] {
		rep.Memory = append(rep.Memory, row{Section: "memory", Metric: "peak RSS, connect (echo session)", Transport: c.transport,
			Ecsterm: bench.SummariseValues("MB", c.rss), RefName: "ssh -tt", Reference: &refRSS, Aim: rssAim})
	}
	return nil
}

// echoRun starts a session of every contender, types into each in turn and ends them.
func echoRun(r *rig, cs []*echoContender) error {
	sessions := make([]*bench.Echo, len(cs))
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.Kill()
			}
		}
	}()
	for i, c := range cs {
		s, err := bench.StartEcho(c.start(), 30*time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w", c.label, err)
		}
		sessions[i] = s
	}
	lat := make([][]float64, len(cs))
	for k := range echoWarmUp + r.cfg.keys {
		key := byte('a' + k%26)
		for i, s := range sessions {
			d, err := s.Type(key)
			if err != nil {
				return fmt.Errorf("%s, keystroke %d: %w", cs[i].label, k, err)
			}
			if k >= echoWarmUp {
				lat[i] = append(lat[i], float64(d)/float64(time.Millisecond))
			}
			time.Sleep(echoGap)
		}
	}
	for i, s := range sessions {
		peak, ok := s.PeakRSS()
		st, err := s.Quit()
		sessions[i] = nil
		if err != nil {
			return fmt.Errorf("%s: %w", cs[i].label, err)
		}
		c := cs[i]
		c.rss = append(c.rss, rssMB(peak, ok, st))
		sorted := append([]float64(nil), lat[i]...)
		sort.Float64s(sorted)
		c.p50 = append(c.p50, bench.Quantile(sorted, 0.5))
		c.p99 = append(c.p99, bench.Quantile(sorted, 0.99))
		c.all = append(c.all, lat[i]...)
	}
	return nil
}
