//go:build unix

package term

import (
	"context"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// watchSize reads the size again on every SIGWINCH. The handler is installed before the first
// size is read, so a change between the two is not lost. Notify never blocks: SIGWINCHes that
// arrive while one is pending fold into it, which is fine because each reads the current size.
func watchSize(ctx context.Context, f *os.File) <-chan Size {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	return watch(ctx, f, winch, func() { signal.Stop(winch) })
}
