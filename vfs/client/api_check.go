package client

import (
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// The interfaces Client implements.
var (
	_ vfs.Translator      = (*Client)(nil)
	_ vfs.Closer          = (*Client)(nil)
	_ compound.Compounder = (*Client)(nil)
	_ vfs.ChangeWatcher   = (*Client)(nil)
)
