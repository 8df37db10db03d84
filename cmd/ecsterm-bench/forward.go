package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ecsterm/ecsterm/internal/bench"
)

// The forward section: bytes from a loopback TCP source to this process, through one connection
// and through 8 at once, along three paths in the same run: a direct TCP connection, OpenSSH's
// ssh -L to the private sshd, and ecsterm forward -L through the emulator. Throughput is the
// median over runs; CPU and peak RSS are the forwarding client's own (ecsterm, or ssh), from its
// rusage, over all its runs. The server side (the emulator's gateway and agent, or sshd) runs on
// the same two cores and is not counted.

// fwdRow is one path's figures.
type fwdRow struct {
	Path      string  `json:"path"`
	One       float64 `json:"one_conn_mib_s"`
	Eight     float64 `json:"eight_conns_mib_s"`
	CPUPerGiB float64 `json:"cpu_s_per_gib,omitempty"` // the client process's user+system time per GiB moved
	MaxRSSMiB float64 `json:"max_rss_mib,omitempty"`
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

// measurePath runs the 1- and 8-connection transfers runs times each through addr, after a warm-up.
func measurePath(addr string, size int64, runs int) (one, eight float64, moved int64, err error) {
	if err := pull(addr, 1<<20); err != nil { // warm-up: the first session, the first handshake
		return 0, 0, 0, fmt.Errorf("warm-up through %s: %w", addr, err)
	}
	moved = 1 << 20
	var ones, eights []float64
	for range runs {
		r1, err := transfer(addr, size, 1)
		if err != nil {
			return 0, 0, 0, err
		}
		r8, err := transfer(addr, size, 8)
		if err != nil {
			return 0, 0, 0, err
		}
		ones, eights = append(ones, r1), append(eights, r8)
		moved += 2 * size
	}
	return median(ones), median(eights), moved, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// usage fills a row's CPU and memory from a finished client process.
func usage(r *fwdRow, cmd *exec.Cmd, moved int64) {
	st := cmd.ProcessState
	if st == nil {
		return
	}
	r.CPUPerGiB = (st.UserTime() + st.SystemTime()).Seconds() / (float64(moved) / (1 << 30))
	r.MaxRSSMiB = maxRSSMiB(st)
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

// forwardSection measures the three paths.
func forwardSection(ctx context.Context, ecsterm func(args ...string) *exec.Cmd, sshd *bench.SSHD, inst string, size int64, runs int) ([]fwdRow, error) {
	srcPort, stop, err := startSource()
	if err != nil {
		return nil, err
	}
	defer stop()
	src := "127.0.0.1:" + strconv.Itoa(srcPort)
	var rows []fwdRow

	one, eight, _, err := measurePath(src, size, runs)
	if err != nil {
		return nil, fmt.Errorf("direct: %w", err)
	}
	rows = append(rows, fwdRow{Path: "direct loopback TCP", One: one, Eight: eight})

	// ssh -L to the private sshd.
	lport, err := freePort()
	if err != nil {
		return nil, err
	}
	ssh := exec.CommandContext(ctx, "ssh", sshd.SSHArgs("-N", "-o", "ExitOnForwardFailure=yes",
		"-L", fmt.Sprintf("127.0.0.1:%d:%s", lport, src))...)
	ssh.Env = bench.Env()
	if err := ssh.Start(); err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(lport)
	if err := waitListening(addr); err != nil {
		stopProcess(ssh, syscall.SIGTERM)
		return nil, fmt.Errorf("ssh -L: %w", err)
	}
	one, eight, moved, err := measurePath(addr, size, runs)
	stopProcess(ssh, syscall.SIGTERM)
	if err != nil {
		return nil, fmt.Errorf("ssh -L: %w", err)
	}
	r := fwdRow{Path: "ssh -L (OpenSSH, private sshd)", One: one, Eight: eight}
	usage(&r, ssh, moved)
	rows = append(rows, r)

	// ecsterm forward -L through the emulator.
	fwd := ecsterm("-o", "json", "forward", inst, "-L", "0:"+strconv.Itoa(srcPort))
	out, err := fwd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := fwd.Start(); err != nil {
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
		stopProcess(fwd, syscall.SIGINT)
		return nil, fmt.Errorf("ecsterm forward did not announce its listener: %w", err)
	}
	one, eight, moved, err = measurePath(ann.Listen, size, runs)
	stopProcess(fwd, syscall.SIGINT)
	if err != nil {
		return nil, fmt.Errorf("ecsterm forward: %w", err)
	}
	r = fwdRow{Path: "ecsterm forward -L (emulator)", One: one, Eight: eight}
	usage(&r, fwd, moved)
	return append(rows, r), nil
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

// printForward prints the section's table and ratios.
func printForward(rows []fwdRow, size int64, runs int) {
	fmt.Printf("\nForward throughput: %d MiB from a loopback TCP source per measurement, through 1 connection and split over 8 at once; median of %d runs (MiB/s).\n\n", size>>20, runs)
	fmt.Println("| path | 1 connection | 8 connections | client CPU s/GiB | client peak RSS |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, r := range rows {
		cpu, rss := "—", "—"
		if r.CPUPerGiB > 0 {
			cpu, rss = fmt.Sprintf("%.2f", r.CPUPerGiB), fmt.Sprintf("%.1f MiB", r.MaxRSSMiB)
		}
		fmt.Printf("| %s | %.0f | %.0f | %s | %s |\n", r.Path, r.One, r.Eight, cpu, rss)
	}
	if len(rows) == 3 {
		d, s, e := rows[0], rows[1], rows[2]
		fmt.Printf("\necsterm / direct: %.3f× (1 connection), %.3f× (8 connections)\n", e.One/d.One, e.Eight/d.Eight)
		fmt.Printf("ecsterm / ssh -L: %.2f× (1 connection), %.2f× (8 connections); CPU per GiB %.2f× ssh's\n", e.One/s.One, e.Eight/s.Eight, e.CPUPerGiB/s.CPUPerGiB)
	}
}
