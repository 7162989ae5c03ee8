package posix

import "github.com/cairnfs/cairn/vfs"

var (
	_ = (vfs.Translator)((*Posix)(nil))
	_ = (vfs.Closer)((*Posix)(nil))
)
