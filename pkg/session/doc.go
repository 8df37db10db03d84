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
