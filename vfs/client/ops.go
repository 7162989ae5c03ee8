package client

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// The vfs.Translator methods that take unary calls (directories, statfs,
// listxattr, readlink, lseek, POSIX locks, and Read and Write above
// channelIOSize unless the channel carries raw payloads), plus Open and
// Release, which keep the client's handle
// table around channel calls. The others travel on the channel
// (ops_small.go). Each is one call (Read and Write of more than
// protocol.MaxIOSize are several); see the package doc for errors and
// handles.

type errnoReply interface{ GetErrno() uint32 }

func errnoOf[R errnoReply](rep R, e syscall.Errno) syscall.Errno {
	if e != 0 {
		return e
	}
	return protocol.ErrnoOf(rep.GetErrno())
}

func (c *Client) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	rep, e := call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ReadlinkReply, error) {
		return ep.rpc.Readlink(ctx, &brickpb.ReadlinkRequest{Gfid: protocol.GFIDBytes(gfid)})
	})
	if e = errnoOf(rep, e); e != 0 {
		return "", e
	}
	return string(rep.Target), 0
}

func (c *Client) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	remote, e := c.openRemote(ctx, gfid, flags)
	if e != 0 {
		return 0, e
	}
	return c.addHandle(gfid, remote, flags, false), 0
}

// channelIOSize is the largest Read or Write sent on the channel when it
// is a gRPC stream or lacks raw payloads; larger ones take the unary
// calls, whose codec moves the data without copies. On a side connection
// with raw payloads (Client.rawBulk) every size goes on the channel.
const channelIOSize = 256 << 10

// Read reads in chunks of at most protocol.MaxIOSize, stopping at the first
// short one (EOF). An error after some data was read returns the data.
func (c *Client) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return 0, e
	}
	if n, ok := c.readLocal(ctx, gfid, of, dest, off); ok {
		return n, 0
	}
	if len(dest) <= channelIOSize || c.rawBulk.Load() {
		// Small reads cost less as a channel message than as a unary
		// call, even with the copies the message decoding makes; on a
		// side connection with raw payloads, reads of any size land in
		// dest straight from the socket.
		total := 0
		for first := true; first || total < len(dest); first = false {
			want := min(len(dest)-total, protocol.MaxIOSize)
			d := dest[total : total+want]
			r := c.oneRaw(ctx, of, compound.Read(gfid, 0, off+int64(total), want), &rawIO{dest: d})
			if r.Errno != 0 {
				if total > 0 {
					return total, 0
				}
				return 0, r.Errno
			}
			n := len(r.Data)
			if n > want {
				return total, syscall.EIO // a brick sending more than asked
			}
			if n > 0 && &r.Data[0] != &d[0] {
				copy(d, r.Data)
			}
			total += n
			if n < want {
				break
			}
		}
		return total, 0
	}
	g := protocol.GFIDBytes(gfid)
	total := 0
	for total < len(dest) {
		want := min(len(dest)-total, protocol.MaxIOSize)
		at := off + int64(total)
		rep, e := call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*readInto, error) {
			ri := &readInto{dest: dest[total : total+want]}
			err := ep.conn.Invoke(ctx, brickpb.Brick_Read_FullMethodName,
				&brickpb.ReadRequest{Gfid: g, Fh: fh, Offset: at, Size: uint32(want)}, ri)
			return ri, err
		})
		if e = errnoOf(rep, e); e != 0 {
			if total > 0 {
				return total, 0
			}
			return 0, e
		}
		got := rep.n
		total += got
		if got < want {
			break
		}
	}
	return total, 0
}

// Write writes in chunks of at most protocol.MaxIOSize, stopping at the
// first short one. An error after some data was written returns the count.
func (c *Client) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return 0, e
	}
	if len(data) <= channelIOSize || c.rawBulk.Load() {
		total := 0
		for first := true; first || total < len(data); first = false {
			chunk := data[total:min(len(data), total+protocol.MaxIOSize)]
			r := c.oneRaw(ctx, of, compound.Write(gfid, 0, chunk, off+int64(total)), &rawIO{data: chunk})
			if r.Errno != 0 {
				if total > 0 {
					return total, 0
				}
				return 0, r.Errno
			}
			n := min(r.N, len(chunk))
			total += n
			if n < len(chunk) {
				break
			}
		}
		return total, 0
	}
	g := protocol.GFIDBytes(gfid)
	total := 0
	for first := true; first || total < len(data); first = false {
		chunk := data[total:min(len(data), total+protocol.MaxIOSize)]
		at := off + int64(total)
		rep, e := call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.WriteReply, error) {
			w := &writeFrom{gfid: g, fh: fh, off: at, data: chunk}
			rep := new(brickpb.WriteReply)
			err := ep.conn.Invoke(ctx, brickpb.Brick_Write_FullMethodName, w, rep)
			if err != nil {
				w.waitReleased()
			}
			return rep, err
		})
		if e = errnoOf(rep, e); e != 0 {
			if total > 0 {
				return total, 0
			}
			return 0, e
		}
		n := min(int(rep.Size), len(chunk))
		total += n
		if n < len(chunk) {
			break
		}
	}
	return total, 0
}

// Release drops the handle. A brick that is unreachable or no longer knows
// the handle has released it already (it does so when a connection ends),
// so those cases succeed.
func (c *Client) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	return c.release(ctx, gfid, fh, false)
}

func (c *Client) release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dir bool) syscall.Errno {
	if fh == 0 {
		return 0
	}
	of := c.dropHandle(fh)
	if of == nil {
		return syscall.EBADF
	}
	remote := of.remote.Load()
	var e syscall.Errno
	if dir {
		e = errnoOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
			return ep.rpc.ReleaseDir(ctx, &brickpb.ReleaseDirRequest{Gfid: protocol.GFIDBytes(gfid), Fh: remote})
		}))
	} else {
		e = c.one(ctx, nil, compound.Release(gfid, vfs.Handle(remote))).Errno
	}
	if e == syscall.ENOTCONN || e == syscall.EBADF {
		return 0
	}
	return e
}

func (c *Client) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return 0, e
	}
	rep, e := call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.LseekReply, error) {
		return ep.rpc.Lseek(ctx, &brickpb.LseekRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh, Offset: off, Whence: int32(whence)})
	})
	if e = errnoOf(rep, e); e != 0 {
		return 0, e
	}
	return rep.Offset, 0
}

func (c *Client) openDirRemote(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	rep, e := call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.HandleReply, error) {
		return ep.rpc.OpenDir(ctx, &brickpb.OpenDirRequest{Gfid: protocol.GFIDBytes(gfid)})
	})
	if e = errnoOf(rep, e); e != 0 {
		return 0, e
	}
	return vfs.Handle(rep.Fh), 0
}

func (c *Client) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	remote, e := c.openDirRemote(ctx, gfid)
	if e != 0 {
		return 0, e
	}
	return c.addHandle(gfid, remote, 0, true), 0
}

// ReadDir returns at most protocol.MaxReadDirEntries entries per call,
// whatever max asks (the brick caps it); eof tells whether more follow.
func (c *Client) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return nil, false, e
	}
	if max > protocol.MaxReadDirEntries || max < 0 {
		max = 0
	}
	rep, e := call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.ReadDirReply, error) {
		return ep.rpc.ReadDir(ctx, &brickpb.ReadDirRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh, Cookie: cookie,
			Max: int32(max), Plus: plus})
	})
	if e = errnoOf(rep, e); e != 0 {
		return nil, false, e
	}
	ents := make([]vfs.DirEntry, len(rep.Entries))
	for i, p := range rep.Entries {
		ents[i] = protocol.DirEntryFromPB(p)
	}
	return ents, rep.Eof, 0
}

// ReleaseDir drops a directory handle, with Release's leniency.
func (c *Client) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	return c.release(ctx, gfid, fh, true)
}

func (c *Client) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	of, e := c.file(fh)
	if e != 0 {
		return e
	}
	return errnoOf(call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.FsyncDir(ctx, &brickpb.FsyncDirRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh, Datasync: datasync})
	}))
}

func (c *Client) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	rep, e := call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.StatFSReply, error) {
		return ep.rpc.StatFS(ctx, &brickpb.StatFSRequest{Gfid: protocol.GFIDBytes(gfid)})
	})
	if e = errnoOf(rep, e); e != 0 {
		return vfs.StatFS{}, e
	}
	return protocol.StatFSFromPB(rep.Statfs), 0
}

func (c *Client) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	rep, e := call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ListXattrReply, error) {
		return ep.rpc.ListXattr(ctx, &brickpb.ListXattrRequest{Gfid: protocol.GFIDBytes(gfid)})
	})
	if e = errnoOf(rep, e); e != 0 {
		return nil, e
	}
	names := make([]string, len(rep.Names))
	for i, n := range rep.Names {
		names[i] = string(n)
	}
	return names, 0
}

func (c *Client) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return vfs.Lock{}, e
	}
	rep, e := call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.LockReply, error) {
		return ep.rpc.GetLk(ctx, &brickpb.GetLkRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh, Kind: uint32(kind),
			Lock: protocol.LockToPB(lk)})
	})
	if e = errnoOf(rep, e); e != 0 {
		return vfs.Lock{}, e
	}
	return protocol.LockFromPB(rep.Lock), 0
}

func (c *Client) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	of, e := c.file(fh)
	if e != 0 {
		return e
	}
	return errnoOf(call(c, ctx, of, wait, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.SetLk(ctx, &brickpb.SetLkRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh, Kind: uint32(kind),
			Lock: protocol.LockToPB(lk), Wait: wait})
	}))
}
