package mdcache

import "github.com/cairnfs/cairn/vfs"

var (
	_ vfs.Translator                            = (*MDCache)(nil)
	_ interface{ ReleaseClient(string) }        = (*MDCache)(nil)
	_ interface{ ReleaseOwner(string, uint64) } = (*MDCache)(nil)
)
