package readahead

import "github.com/cairnfs/cairn/vfs"

var (
	_ vfs.Translator                            = (*ReadAhead)(nil)
	_ interface{ ReleaseClient(string) }        = (*ReadAhead)(nil)
	_ interface{ ReleaseOwner(string, uint64) } = (*ReadAhead)(nil)
)
