//go:build !unix

package main

import "errors"

// echoSection needs a PTY to type into.
func echoSection(*rig, *report) error {
	return errors.New("the echo section needs a Unix PTY; run with -only startup,bulk,forward")
}
