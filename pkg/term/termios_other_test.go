//go:build aix || linux || solaris || zos

package term

import "golang.org/x/sys/unix"

const ioctlReadTermios, ioctlWriteTermios = unix.TCGETS, unix.TCSETS
