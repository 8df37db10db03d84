package main

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ecsterm/ecsterm/internal/bench"
)

// The forward section: bytes from a loopback TCP source to this process, through one connection
// and through 8 at once, along the paths of one run: a direct TCP connection, OpenSSH's ssh -L
// to the private sshd, and ecsterm forward -L through each emulator. All forwarders stay up for
// the whole section and take turns, run after run. Throughput is MiB/s per run; CPU and peak RSS
// are the forwarding client's own (ecsterm, or ssh), from its rusage, over all its runs. The
// server side (the emulator's gateway and agent, or sshd) runs on the same cores and is not
// counted.

// fwdPath is one way to the source and its figures.
type fwdPath struct {
	label, kind, transport string
	addr                   string
	cmd                    *exec.Cmd // the forwarder; nil for the direct path
	stopSig                syscall.Signal
	one, eight             []float64
	moved                  int64
	rss                    float64 // the forwarder's peak resident set, MB
}

// source serves the benchmark's bytes: a client sends a big-endian uint64 n and reads n bytes.
func startSource() (port int, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	block := make([]byte, 1<<20)
	rand.Read(block)
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var hdr [8]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				for n := int64(binary.BigEndian.Uint64(hdr[:])); n > 0; {
					k := min(n, int64(len(block)))
					if _, err := c.Write(block[:k]); err != nil {
						return
					}
					n -= k
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, func() { ln.Close(); wg.Wait() }, nil
}

// pull reads n bytes from the source through addr.
func pull(addr string, n int64) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
	if _, err := c.Write(binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
		return err
	}
	got, err := io.Copy(io.Discard, c)
	if err == nil && got != n {
		err = fmt.Errorf("got %d bytes of %d", got, n)
	}
	return err
}

// transfer moves total bytes through addr over conns connections at once and returns MiB/s.
func transfer(addr string, total int64, conns int) (float64, error) {
	start := time.Now()
	errs := make(chan error, conns)
	for range conns {
		go func() { errs <- pull(addr, total/int64(conns)) }()
	}
	var err error
	for range conns {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		return 0, err
	}
	return float64(total/int64(conns)*int64(conns)) / (1 << 20) / time.Since(start).Seconds(), nil
}

// stopProcess ends a forwarder and waits for it; a signal death is its normal end here.
func stopProcess(cmd *exec.Cmd, sig syscall.Signal) {
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func forwardSection(r *rig, rep *report) error {
	srcPort, stop, err := startSource()
	if err != nil {
		return err
	}
	defer stop()
	src := "127.0.0.1:" + strconv.Itoa(srcPort)
	paths := []*fwdPath{{label: "direct loopback TCP", kind: "raw", addr: src}}
	defer func() {
		for _, p := range paths {
			if p.cmd != nil && p.cmd.ProcessState == nil {
				stopProcess(p.cmd, p.stopSig)
			}
		}
	}()
	for _, t := range r.trans {
		p, err := startEcstermForward(r, t, srcPort)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	p, err := startSSHForward(r, src)
	if err != nil {
		return err
	}
	paths = append(paths, p)

	size := r.cfg.size
	r.logf("forward: %d runs of %d MiB through 1 and through 8 connections", r.cfg.runs, size>>20)
	for _, p := range paths {
		if err := pull(p.addr, 1<<20); err != nil { // warm-up: the first session, the first handshake
			return fmt.Errorf("warm-up through %s: %w", p.label, err)
		}
		p.moved += 1 << 20
	}
	for range r.cfg.runs {
		for _, p := range paths {
			one, err := transfer(p.addr, size, 1)
			if err != nil {
				return fmt.Errorf("%s: %w", p.label, err)
			}
			eight, err := transfer(p.addr, size, 8)
			if err != nil {
				return fmt.Errorf("%s, 8 connections: %w", p.label, err)
			}
			p.one, p.eight = append(p.one, one), append(p.eight, eight)
			p.moved += 2 * size
		}
	}
	for _, p := range paths {
		if p.cmd != nil {
			peak, ok := bench.PeakRSS(p.cmd.Process.Pid)
			stopProcess(p.cmd, p.stopSig)
			p.rss = rssMB(peak, ok, p.cmd.ProcessState)
		}
	}

	direct, ssh := paths[0], paths[len(paths)-1]
	mibs := func(v []float64) bench.Stats { return bench.SummariseValues("MiB/s", v) }
	one := func(n int) string { return map[int]string{1: "1 connection", 8: "8 connections"}[n] }
	sshCPU, sshRSS := bench.SummariseValues("s/GiB", []float64{cpuPerGiB(ssh)}), bench.SummariseValues("MB", []float64{ssh.rss})
	for _, n := range []int{1, 8} {
		pick := func(p *fwdPath) []float64 {
			if n == 1 {
				return p.one
			}
			return p.eight
		}
		refSSH, refDirect := mibs(pick(ssh)), mibs(pick(direct))
		for _, p := range paths[1 : len(paths)-1] {
			got := mibs(pick(p))
			vsSSH := row{Section: "forward", Metric: "forward -L, " + one(n), Transport: p.transport, Ecsterm: got, RefName: "ssh -L", Reference: &refSSH}
			if p.transport == "TLS" {
				vsSSH.Aim = atLeast(1, "ssh")
			}
			rep.add(vsSSH)
			rep.add(row{Section: "forward", Metric: "forward -L, " + one(n), Transport: p.transport, Ecsterm: got, RefName: "direct loopback TCP", Reference: &refDirect})
		}
		pn := panel{Title: fmt.Sprintf("Forward -L, %s: %d MiB per run (MiB/s, median and p10–p90)", one(n), size>>20), Unit: "MiB/s", Bars: true}
		for _, p := range paths[1:] {
			pn.Series = append(pn.Series, series{Label: p.label, Kind: p.kind, Values: pick(p)})
		}
		pn.Series = append(pn.Series, series{Label: direct.label, Kind: "raw", Values: pick(direct)})
		rep.Panels = append(rep.Panels, pn)
	}
	for _, p := range paths[1 : len(paths)-1] {
		rep.add(row{Section: "forward", Metric: "client CPU per GiB, forward -L (all runs)", Transport: p.transport,
			Ecsterm: bench.SummariseValues("s/GiB", []float64{cpuPerGiB(p)}), RefName: "ssh -L", Reference: &sshCPU})
		rep.Memory = append(rep.Memory, row{Section: "memory", Metric: "peak RSS, forward -L (all runs, up to 8 connections)", Transport: p.transport,
			Ecsterm: bench.SummariseValues("MB", []float64{p.rss}), RefName: "ssh -L", Reference: &sshRSS, Aim: rssAim})
	}
	return nil
}

// cpuPerGiB is a finished forwarder's user and system time per GiB it moved.
func cpuPerGiB(p *fwdPath) float64 {
	return cpuSeconds(p.cmd.ProcessState) / (float64(p.moved) / (1 << 30))
}

func startSSHForward(r *rig, src string) (*fwdPath, error) {
	lport, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := r.ssh([]string{"-N", "-o", "ExitOnForwardFailure=yes", "-L", fmt.Sprintf("127.0.0.1:%d:%s", lport, src)}, "")
	cmd.Args = cmd.Args[:len(cmd.Args)-1] // -N: no remote command
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &fwdPath{label: "ssh -L", kind: "ssh", addr: "127.0.0.1:" + strconv.Itoa(lport), cmd: cmd, stopSig: syscall.SIGTERM}
	if err := waitListening(p.addr); err != nil {
		stopProcess(cmd, syscall.SIGTERM)
		return nil, fmt.Errorf("ssh -L: %w", err)
	}
	return p, nil
}

func startEcstermForward(r *rig, t *transport, srcPort int) (*fwdPath, error) {
	cmd := r.ecsterm(t, "-o", "json", "forward", inst, "-L", "0:"+strconv.Itoa(srcPort))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var ann struct {
		Listen string `json:"listen"`
	}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &ann)
	}
	if err != nil {
		stopProcess(cmd, syscall.SIGINT)
		return nil, fmt.Errorf("ecsterm forward (%s) did not announce its listener: %w", t.name, err)
	}
	return &fwdPath{label: "ecsterm forward -L, " + t.name, kind: "ecsterm-" + t.name, transport: t.name, addr: ann.Listen, cmd: cmd, stopSig: syscall.SIGINT}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
