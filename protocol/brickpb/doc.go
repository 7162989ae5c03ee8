// Package brickpb holds the Go code generated from protocol/brick.proto (the
// brick service and its messages). It is regenerated with `make proto` and
// checked with `make proto-check`; do not edit the *.pb.go files.
//
// Only protocol/client (vfs/client) and protocol/server (brick/server) use
// these types; everything else sees vfs types, converted at the edge by
// package protocol.
package brickpb
