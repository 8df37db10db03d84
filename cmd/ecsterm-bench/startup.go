package main

import (
	"context"
	"os/exec"
	"time"

	"github.com/ecsterm/ecsterm/internal/bench"
)

// The start-up section: the wall time of `exec -- true`, and the time from process start to the
// first byte of the remote shell's prompt, against ssh to the private sshd, each contender in
// turn, run after run. With the emulator's agent delay at zero these are the client's and the
// API's own costs; the realistic rows add the real agent's PTY start-up (about 1 s).

func startupSection(r *rig, rep *report) error {
	ctx := context.Background()
	first := func(mk func() *exec.Cmd) func() (time.Duration, error) {
		return func() (time.Duration, error) { return bench.FirstByte(ctx, mk) }
	}
	type metric struct {
		name, ref, note string
		aim             *aim
		ecsterm         func(t *transport) func() (time.Duration, error)
		ssh             func() (time.Duration, error)
	}
	metrics := []metric{{
		name: "exec -- true, wall time", ref: "ssh localhost true", aim: atMost(0.5, "ssh"),
		ecsterm: func(t *transport) func() (time.Duration, error) {
			return timed(func() *exec.Cmd { return r.ecsterm(t, "exec", "-T", inst, "--", "true") })
		},
		ssh: timed(func() *exec.Cmd { return r.ssh(nil, "true") }),
	}, {
		name: "connect, start to the prompt's first byte", ref: "ssh -tt localhost bash, first byte",
		ecsterm: func(t *transport) func() (time.Duration, error) {
			return first(func() *exec.Cmd { return r.ecsterm(t, "connect", inst) })
		},
		ssh: first(func() *exec.Cmd { return r.ssh([]string{"-tt"}, "bash") }),
	}}
	for _, m := range metrics {
		r.logf("startup: %s, %d runs", m.name, r.cfg.runs)
		var fns []func() (time.Duration, error)
		for _, t := range r.trans {
			fns = append(fns, m.ecsterm(t))
		}
		res, err := bench.Interleave(r.cfg.runs, append(fns, m.ssh)...)
		if err != nil {
			return err
		}
		ref := bench.Summarise(res[len(fns)])
		p := panel{Title: "Start-up: " + m.name + " (ms, log scale)", Unit: "ms", Log: true}
		for i, t := range r.trans {
			row := row{Section: "start-up", Metric: m.name + ", agent delay 0", Transport: t.name, Ecsterm: bench.Summarise(res[i]), RefName: m.ref, Reference: &ref}
			if t.name == "TLS" {
				row.Aim = m.aim
			}
			rep.add(row)
			p.Series = append(p.Series, series{Label: "ecsterm, " + t.name, Kind: "ecsterm-" + t.name, Values: msValues(res[i])})
		}
		p.Series = append(p.Series, series{Label: m.ref, Kind: "ssh", Values: msValues(res[len(fns)])})
		rep.Panels = append(rep.Panels, p)
	}

	// The realistic agent: no reference, as ssh has no such delay; it shows what a user waits.
	t := r.slow
	for _, m := range metrics {
		r.logf("startup: %s with the agent delay at %s, %d runs", m.name, r.cfg.delay, r.cfg.runs)
		res, err := bench.Interleave(r.cfg.runs, m.ecsterm(t))
		if err != nil {
			return err
		}
		rep.add(row{Section: "start-up", Metric: m.name + ", realistic agent delay " + r.cfg.delay.String(), Transport: t.name,
			Ecsterm: bench.Summarise(res[0])})
	}
	return nil
}

func msValues(d []time.Duration) []float64 {
	v := make([]float64, len(d))
	for i, x := range d {
		v[i] = float64(x) / float64(time.Millisecond)
	}
	return v
}
