package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ecsterm/ecsterm/internal/bench"
)

// The bulk section: a file of -size bytes printed by `cat` on the far side and written to
// /dev/null here, through `ecsterm exec -T <id> -- cat FILE`, `ssh ... cat FILE` and `ssh -tt ...
// 'stty raw -echo; cat FILE | cat'` (ssh through a raw remote PTY, the far end exec has), with a
// raw loopback TCP copy of as many bytes, and the same `cat FILE | cat` onto a raw PTY read by
// this process (bench.PTYCopy: the agent's path alone, a ceiling for any client of a PTY-only
// agent). Every run each client also runs `true` just
// before, and the throughput is the size over the difference of the two wall times: the bytes'
// own time, without the start-up that the start-up section measures (ssh's handshake would
// otherwise dominate). CPU seconds per GiB and peak RSS are the client process's own, from its
// rusage; the server side (emulator or sshd) shares the same cores and is not counted.

type bulkContender struct {
	label, kind, transport string
	noop, cat              func() *exec.Cmd // true, and cat FILE
	mibs, cpu, rss         []float64
}

func bulkSection(r *rig, rep *report) error {
	size := r.cfg.size
	file := filepath.Join(r.dir, "bulk.bin")
	if err := writeRandomFile(file, size); err != nil {
		return err
	}
	defer os.Remove(file)
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()

	var cs []*bulkContender
	for _, t := range r.trans {
		cs = append(cs, &bulkContender{label: "ecsterm exec, " + t.name, kind: "ecsterm-" + t.name, transport: t.name,
			noop: func() *exec.Cmd { return r.ecsterm(t, "exec", "-T", inst, "--", "true") },
			cat:  func() *exec.Cmd { return r.ecsterm(t, "exec", "-T", inst, "--", "cat", file) }})
	}
	ssh := &bulkContender{label: "ssh cat", kind: "ssh",
		noop: func() *exec.Cmd { return r.ssh(nil, "true") },
		cat:  func() *exec.Cmd { return r.ssh(nil, "cat "+file) }}
	// ssh through a remote PTY, in raw mode, with the output piped into it as exec's helper
	// does: the same far end as ecsterm's, which has only a PTY (the agent's only channel).
	sshTT := &bulkContender{label: "ssh -tt cat (remote PTY)", kind: "ssh",
		noop: func() *exec.Cmd { return r.ssh([]string{"-tt", "-q"}, "true") },
		cat:  func() *exec.Cmd { return r.ssh([]string{"-tt", "-q"}, "stty raw -echo; cat "+file+" | cat") }}
	cs = append(cs, ssh, sshTT)

	srcPort, stop, err := startSource()
	if err != nil {
		return err
	}
	defer stop()
	src := "127.0.0.1:" + strconv.Itoa(srcPort)
	var raw, ptyCeil []float64

	r.logf("bulk: %d runs of %d MiB", r.cfg.runs, size>>20)
	for run := -1; run < r.cfg.runs; run++ { // run -1 warms up
		for _, c := range cs {
			if err := c.measure(size, devNull, run >= 0); err != nil {
				return fmt.Errorf("%s: %w", c.label, err)
			}
		}
		v, err := transfer(src, size, 1)
		if err != nil {
			return fmt.Errorf("raw TCP: %w", err)
		}
		d, n, err := bench.PTYCopy(file)
		if err != nil || n != size {
			return fmt.Errorf("PTY copy: %d bytes of %d: %v", n, size, err)
		}
		if run >= 0 {
			raw = append(raw, v)
			ptyCeil = append(ptyCeil, float64(size)/(1<<20)/d.Seconds())
		}
	}

	refSSH, refRaw, refPTY := bench.SummariseValues("MiB/s", ssh.mibs), bench.SummariseValues("MiB/s", raw), bench.SummariseValues("MiB/s", ptyCeil)
	refSSHTT := bench.SummariseValues("MiB/s", sshTT.mibs)
	refCPU, refRSS := bench.SummariseValues("s/GiB", ssh.cpu), bench.SummariseValues("MB", ssh.rss)
	metric := fmt.Sprintf("exec -- cat %d MiB > /dev/null", size>>20)
	for _, c := range cs[:len(cs)-2] {
		got := bench.SummariseValues("MiB/s", c.mibs)
		vsSSH := row{Section: "bulk", Metric: metric, Transport: c.transport, Ecsterm: got, RefName: "ssh cat", Reference: &refSSH, Note: "net of start-up"}
		if c.transport == "TLS" {
			vsSSH.Aim = atLeast(1, "ssh")
		}
		rep.add(vsSSH)
		rep.add(row{Section: "bulk", Metric: metric, Transport: c.transport, Ecsterm: got, RefName: "ssh -tt, raw remote PTY", Reference: &refSSHTT, Note: "net of start-up"})
		rep.add(row{Section: "bulk", Metric: metric, Transport: c.transport, Ecsterm: got, RefName: "raw loopback TCP", Reference: &refRaw, Note: "net of start-up"})
		rep.add(row{Section: "bulk", Metric: metric, Transport: c.transport, Ecsterm: got, RefName: "cat FILE | cat onto a raw PTY, no session", Reference: &refPTY, Note: "net of start-up"})
		rep.add(row{Section: "bulk", Metric: "client CPU per GiB, exec -- cat", Transport: c.transport, Ecsterm: bench.SummariseValues("s/GiB", c.cpu), RefName: "ssh cat", Reference: &refCPU})
		rep.Memory = append(rep.Memory, row{Section: "memory", Metric: "peak RSS, exec -- cat", Transport: c.transport,
			Ecsterm: bench.SummariseValues("MB", c.rss), RefName: "ssh cat", Reference: &refRSS, Aim: rssAim})
	}
	p := panel{Title: fmt.Sprintf("Bulk output: cat %d MiB to /dev/null (MiB/s, median and p10–p90)", size>>20), Unit: "MiB/s", Bars: true}
	for _, c := range cs {
		p.Series = append(p.Series, series{Label: c.label, Kind: c.kind, Values: c.mibs})
	}
	p.Series = append(p.Series, series{Label: "cat | cat on a raw PTY", Kind: "pty", Values: ptyCeil})
	p.Series = append(p.Series, series{Label: "raw loopback TCP", Kind: "raw", Values: raw})
	rep.Panels = append(rep.Panels, p)
	return nil
}

// measure runs true and then cat, and records the net throughput and the cat's usage.
func (c *bulkContender) measure(size int64, devNull *os.File, record bool) error {
	base, err := bench.Timed(c.noop())
	if err != nil {
		return err
	}
	cmd := c.cat()
	cmd.Stdout = devNull
	d, peak, err := bench.TimedRSS(cmd)
	if err != nil {
		return err
	}
	if !record {
		return nil
	}
	net := max(d-base, time.Millisecond)
	c.mibs = append(c.mibs, float64(size)/(1<<20)/net.Seconds())
	c.cpu = append(c.cpu, cpuSeconds(cmd.ProcessState)/(float64(size)/(1<<30)))
	c.rss = append(c.rss, rssMB(peak, peak > 0, cmd.ProcessState))
	return nil
}

func writeRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cpuSeconds(st *os.ProcessState) float64 {
	if st == nil {
		return 0
	}
	return (st.UserTime() + st.SystemTime()).Seconds()
}
