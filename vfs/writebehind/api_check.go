package writebehind

import "github.com/cairnfs/cairn/vfs"

var (
	_ vfs.Translator                            = (*WriteBehind)(nil)
	_ vfs.Closer                                = (*WriteBehind)(nil)
	_ interface{ ReleaseClient(string) }        = (*WriteBehind)(nil)
	_ interface{ ReleaseOwner(string, uint64) } = (*WriteBehind)(nil)
)
