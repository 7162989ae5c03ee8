package replicate

import "github.com/cairnfs/cairn/vfs"

var (
	_ vfs.Translator    = (*Replicate)(nil)
	_ vfs.Closer        = (*Replicate)(nil)
	_ vfs.ChangeWatcher = (*Replicate)(nil)
)
