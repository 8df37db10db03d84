//go:build unix

package bench

import (
	"errors"
	"io"
	"os/exec"
	"time"

	"github.com/creack/pty"
)

// PTYCopy times what the exec path's far end does without any session around it: `cat file |
// cat` onto a PTY in raw mode (the agent's only channel is a PTY, and the exec helper pipes the
// command's output into it), read here with plain reads of a 16 KiB buffer (Linux hands out
// about 4 KiB per read of a PTY, as the emulated agent's pump also finds). Its throughput is a
// ceiling for exec output on this machine, whatever the client.
func PTYCopy(file string) (time.Duration, int64, error) {
	cmd := exec.Command("sh", "-c", `stty raw -echo; printf R; cat "$1" | cat`, "sh", file)
	f, err := pty.Start(cmd)
	if err != nil {
		return 0, 0, err
	}
	defer func() { f.Close(); _ = cmd.Wait() }()
	buf := make([]byte, 16<<10)
	if _, err := io.ReadFull(f, buf[:1]); err != nil || buf[0] != 'R' {
		return 0, 0, errors.New("the PTY copy did not start")
	}
	start := time.Now()
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err != nil { // EIO once the last writer has gone: the end of the copy
			return time.Since(start), n, nil
		}
	}
}
