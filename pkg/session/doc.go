// Package session speaks the Cloud Assistant session-manager WebSocket protocol: the frame codec
// for schemas 1.01 and 1.02, and Run, which pumps a byte stream, resizes and keep-alives over one
// WebSocket. It knows nothing of terminals, flags or the ECS API: callers hand it an io.Reader,
// an io.Writer and a channel of window sizes.
//
// The layout is in docs/protocol.md, Frames. The two schemas share every header byte except
// 18..29 (relative to the end of the ids), so one decoder reads both and exposes both views of
// those bytes; only the version string says which the sender meant.
//
// # Layers
//
// The session loop (session.go: output delivery, keep-alive, idle, silence, the end; input.go:
// the input pump, its pacer, what to send at EOF, resizes) talks to one unexported transport
// (conn101.go) and never asks which schema it speaks. Behind it:
//   - conn101.go: a plain 1.01 connection, one writer lock, a drop is the end.
//   - conn102.go: 1.02 on the path of every frame: input numbering, the bounded queue of
//     unacknowledged input, the output acknowledgement rules.
//   - replay102.go: 1.02 around a drop: the pump that writes what the reader asks for, resend,
//     reconnect with backoff, the Expired rule, the fall back to 1.01, status lines.
//
// Both transports put frames on the socket and take them off it through wire (frame.go).
//
// # Resume (schema 1.02)
//
// The reference leaves much of the gateway's side unknown (docs/protocol.md, Ledger). Where it
// does, resume chooses what is safe whichever way the answer goes:
//   - Acknowledgements are trusted only from Output and Sync frames of a gateway that numbers its
//     output (Status seqs are placeholders: docs/protocol.md, Frames). A gateway whose first Output
//     carries outputSeq 0 speaks the 1.01 layout: everything it sends is delivered, nothing is
//     queued, and a drop ends the session, because a resumed stream could not be checked for lost
//     or repeated bytes.
//   - The first Output's seq is the baseline, whatever it is: on a fresh connection nothing can
//     have been missed.
//   - A server Sync's inputSeq is the first input the gateway wants ("next expected", as WEB's
//     resend check implies: docs/protocol.md, Sequence numbers and resume): it acknowledges
//     everything before. Frames from it on that were not written on the current connection are
//     resent (those that were are in flight), so a gateway may send a Sync merely to acknowledge
//     input when it has no output to carry the acknowledgement; one that tracks seqs drops any
//     duplicate anyway.
//   - The queue of unacknowledged input is bounded; when full, input waits for an acknowledgement,
//     but not for ever (conn102.go): a gateway that never acknowledges input without output must
//     not stall an upload.
//   - After reconnecting, input waits (queued, in order) until the gateway answers: a Sync, an
//     Opened status or an Output ends the wait; so does SyncTimeout, after which the whole queue is
//     resent rather than held for ever.
//   - A reconnected connection whose frames name another channel means the gateway started a new
//     one instead of resuming: the session ends, rather than mixing two channels' streams.
//   - 1.02 is not validated against the live gateway (docs/protocol.md, How the schema is chosen).
//     If the gateway ends a 1.02 channel before any output and before any reconnect, Run dials
//     the URL again without &channelId= (a new channel) and carries on in 1.01, resending the input
//     it had queued; if the queue let some of it go, the session ends instead, rather than send
//     the input with a hole in it. Against a gateway that takes 1.02 this costs nothing; against
//     one that refuses it, the session still works. (This fall back happens inside Run rather
//     than in the caller: Run holds the input it already read from Stdin and the goroutine
//     reading it, so a second Run would lose the first's input or race it for Stdin.)
//
// # The path of a keystroke (Stdin → WebSocket)
//
//  1. input.go: inputLoop reads Stdin, waits for the pacer, and calls transport.send(Input).
//  2. conn101.go or conn102.go: send numbers the frame (1.02 also queues it until acknowledged).
//  3. frame.go: wire.write encodes the frame and writes the WebSocket message.
//
// # The path of an output frame (WebSocket → Stdout)
//
//  1. frame.go: wire.read reads the WebSocket message and decodes the frame.
//  2. conn101.go or conn102.go: recv hands it on (1.02 first drops duplicates and frames past a
//     gap, and counts it towards an acknowledgement).
//  3. session.go: readLoop writes the payload to Stdout.
package session
