package client

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
)

// The vfs.Translator methods. Each is one RPC (Read and Write of more than
// protocol.MaxIOSize are several); see the package doc for errors and
// handles.

func attrOf(rep *brickpb.AttrReply, e syscall.Errno) (vfs.Attr, syscall.Errno) {
	if e != 0 {
		return vfs.Attr{}, e
	}
	if e := protocol.ErrnoOf(rep.GetErrno()); e != 0 {
		return vfs.Attr{}, e
	}
	return protocol.AttrFromPB(rep.GetAttr()), 0
}

type errnoReply interface{ GetErrno() uint32 }

func errnoOf[R errnoReply](rep R, e syscall.Errno) syscall.Errno {
	if e != 0 {
		return e
	}
	return protocol.ErrnoOf(rep.GetErrno())
}

func (c *Client) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	return attrOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.AttrReply, error) {
		return ep.rpc.Lookup(ctx, &brickpb.LookupRequest{Parent: protocol.GFIDBytes(parent), Name: []byte(name)})
	}))
}

func (c *Client) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return vfs.Attr{}, e
	}
	return attrOf(call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.AttrReply, error) {
		return ep.rpc.GetAttr(ctx, &brickpb.GetAttrRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh})
	}))
}

func (c *Client) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return vfs.Attr{}, e
	}
	pin := protocol.SetAttrInToPB(in)
	return attrOf(call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.AttrReply, error) {
		return ep.rpc.SetAttr(ctx, &brickpb.SetAttrRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh, In: pin})
	}))
}

func (c *Client) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	pin := protocol.CreateInToPB(in)
	rep, e := call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.CreateReply, error) {
		return ep.rpc.Create(ctx, &brickpb.CreateRequest{Parent: protocol.GFIDBytes(parent), Name: []byte(name), In: pin})
	})
	if e = errnoOf(rep, e); e != 0 {
		return vfs.Attr{}, 0, e
	}
	a := protocol.AttrFromPB(rep.Attr)
	var flags uint32
	if in != nil {
		flags = in.Flags
	}
	return a, c.addHandle(a.GFID, vfs.Handle(rep.Fh), flags, false), 0
}

func (c *Client) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	pin := protocol.CreateInToPB(in)
	return attrOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.AttrReply, error) {
		return ep.rpc.Mknod(ctx, &brickpb.MknodRequest{Parent: protocol.GFIDBytes(parent), Name: []byte(name), In: pin})
	}))
}

func (c *Client) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	pin := protocol.CreateInToPB(in)
	return attrOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.AttrReply, error) {
		return ep.rpc.Mkdir(ctx, &brickpb.MkdirRequest{Parent: protocol.GFIDBytes(parent), Name: []byte(name), In: pin})
	}))
}

func (c *Client) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	pin := protocol.CreateInToPB(in)
	return attrOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.AttrReply, error) {
		return ep.rpc.Symlink(ctx, &brickpb.SymlinkRequest{Parent: protocol.GFIDBytes(parent), Name: []byte(name),
			Target: []byte(target), In: pin})
	}))
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

func (c *Client) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	return attrOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.AttrReply, error) {
		return ep.rpc.Link(ctx, &brickpb.LinkRequest{Gfid: protocol.GFIDBytes(gfid), NewParent: protocol.GFIDBytes(newParent),
			NewName: []byte(newName)})
	}))
}

func (c *Client) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	return errnoOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.Unlink(ctx, &brickpb.UnlinkRequest{Parent: protocol.GFIDBytes(parent), Name: []byte(name)})
	}))
}

func (c *Client) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	return errnoOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.Rmdir(ctx, &brickpb.RmdirRequest{Parent: protocol.GFIDBytes(parent), Name: []byte(name)})
	}))
}

func (c *Client) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	return errnoOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.Rename(ctx, &brickpb.RenameRequest{OldParent: protocol.GFIDBytes(oldParent), OldName: []byte(oldName),
			NewParent: protocol.GFIDBytes(newParent), NewName: []byte(newName), Flags: flags})
	}))
}

// openRemote opens gfid on the brick and returns the brick's handle.
func (c *Client) openRemote(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	rep, e := call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.HandleReply, error) {
		return ep.rpc.Open(ctx, &brickpb.OpenRequest{Gfid: protocol.GFIDBytes(gfid), Flags: flags})
	})
	if e = errnoOf(rep, e); e != 0 {
		return 0, e
	}
	return vfs.Handle(rep.Fh), 0
}

func (c *Client) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	remote, e := c.openRemote(ctx, gfid, flags)
	if e != 0 {
		return 0, e
	}
	return c.addHandle(gfid, remote, flags, false), 0
}

// Read reads in chunks of at most protocol.MaxIOSize, stopping at the first
// short one (EOF). An error after some data was read returns the data.
func (c *Client) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return 0, e
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

func (c *Client) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	of, e := c.file(fh)
	if e != 0 {
		return e
	}
	return errnoOf(call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.Flush(ctx, &brickpb.FlushRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh})
	}))
}

func (c *Client) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	of, e := c.file(fh)
	if e != 0 {
		return e
	}
	return errnoOf(call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.Fsync(ctx, &brickpb.FsyncRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh, Datasync: datasync})
	}))
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
		e = errnoOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
			return ep.rpc.Release(ctx, &brickpb.ReleaseRequest{Gfid: protocol.GFIDBytes(gfid), Fh: remote})
		}))
	}
	if e == syscall.ENOTCONN || e == syscall.EBADF {
		return 0
	}
	return e
}

func (c *Client) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	of, e := c.file(fh)
	if e != 0 {
		return e
	}
	return errnoOf(call(c, ctx, of, false, func(ctx context.Context, ep *epoch, fh uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.Fallocate(ctx, &brickpb.FallocateRequest{Gfid: protocol.GFIDBytes(gfid), Fh: fh, Mode: mode,
			Offset: off, Length: length})
	}))
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

func (c *Client) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	rep, e := call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.GetXattrReply, error) {
		return ep.rpc.GetXattr(ctx, &brickpb.GetXattrRequest{Gfid: protocol.GFIDBytes(gfid), Name: []byte(name)})
	})
	if e = errnoOf(rep, e); e != 0 {
		return nil, e
	}
	if rep.Value == nil {
		return []byte{}, 0 // an empty value, not an absent one
	}
	return rep.Value, 0
}

func (c *Client) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	return errnoOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.SetXattr(ctx, &brickpb.SetXattrRequest{Gfid: protocol.GFIDBytes(gfid), Name: []byte(name),
			Value: value, Flags: flags})
	}))
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

func (c *Client) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	return errnoOf(call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.RemoveXattr(ctx, &brickpb.RemoveXattrRequest{Gfid: protocol.GFIDBytes(gfid), Name: []byte(name)})
	}))
}

func (c *Client) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	xs := protocol.XattrsToPB(operands)
	rep, e := call(c, ctx, nil, false, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.XattrOpReply, error) {
		return ep.rpc.XattrOp(ctx, &brickpb.XattrOpRequest{Gfid: protocol.GFIDBytes(gfid), Op: uint32(op), Operands: xs})
	})
	if e = errnoOf(rep, e); e != 0 {
		return nil, e
	}
	return protocol.XattrsFromPB(rep.Values), 0
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

func (c *Client) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	return errnoOf(call(c, ctx, nil, wait, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.InodeLk(ctx, &brickpb.InodeLkRequest{Domain: []byte(domain), Gfid: protocol.GFIDBytes(gfid),
			Lock: protocol.LockToPB(lk), Wait: wait})
	}))
}

func (c *Client) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	return errnoOf(call(c, ctx, nil, wait, func(ctx context.Context, ep *epoch, _ uint64) (*brickpb.ErrnoReply, error) {
		return ep.rpc.EntryLk(ctx, &brickpb.EntryLkRequest{Domain: []byte(domain), Parent: protocol.GFIDBytes(parent),
			Name: []byte(name), Type: uint32(typ), Owner: owner, Wait: wait})
	}))
}
