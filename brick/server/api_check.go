package server

import "github.com/cairnfs/cairn/protocol/brickpb"

// The interfaces the service implements.
var _ brickpb.BrickServer = (*service)(nil)
