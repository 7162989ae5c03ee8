package locks

import "github.com/cairnfs/cairn/vfs"

var _ vfs.Translator = (*Locks)(nil)
