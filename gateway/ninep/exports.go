package ninep

import (
	"syscall"

	"github.com/hugelgupf/p9/fsimpl/templatefs"
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"

	"github.com/cairnfs/cairn/vfs"
)

// exportsDir is a read-only directory whose entries are the exports. An
// attach naming a volume gets it, and p9 walks the name from it; an empty
// attach name gets it when several volumes are served.
type exportsDir struct {
	templatefs.NotSymlinkFile
	templatefs.ReadOnlyDir
	templatefs.IsDir
	templatefs.NotLockable
	templatefs.XattrUnimplemented
	templatefs.NilCloser
	templatefs.NoopRenamed

	c      *conn
	caller *vfs.Caller
}

var _ p9.File = (*exportsDir)(nil)

func (d *exportsDir) qid() p9.QID { return p9.QID{Type: p9.TypeDir, Path: 0} }

func (d *exportsDir) attr() p9.Attr {
	return p9.Attr{Mode: p9.ModeDirectory | 0o555, NLink: 2, BlockSize: 4096}
}

func (d *exportsDir) walk(names []string) ([]p9.QID, p9.File, p9.AttrMask, p9.Attr, error) {
	switch len(names) {
	case 0:
		return nil, &exportsDir{c: d.c, caller: d.caller}, attrMask, d.attr(), nil
	case 1:
		ex := d.c.srv.byName[names[0]]
		if ex == nil {
			return nil, nil, p9.AttrMask{}, p9.Attr{}, linux.ENOENT
		}
		root, err := newRoot(d.c, ex, d.caller)
		if err != nil {
			return nil, nil, p9.AttrMask{}, p9.Attr{}, err
		}
		q, m, a, err := root.GetAttr(attrMask)
		if err != nil {
			return nil, nil, p9.AttrMask{}, p9.Attr{}, err
		}
		return []p9.QID{q}, root, m, a, nil
	}
	_, f, _, _, err := d.walk(names[:1])
	if err != nil {
		return nil, nil, p9.AttrMask{}, p9.Attr{}, err
	}
	return f.WalkGetAttr(names[1:])
}

func (d *exportsDir) Walk(names []string) ([]p9.QID, p9.File, error) {
	q, f, _, _, err := d.walk(names)
	return q, f, err
}

func (d *exportsDir) WalkGetAttr(names []string) ([]p9.QID, p9.File, p9.AttrMask, p9.Attr, error) {
	return d.walk(names)
}

func (d *exportsDir) GetAttr(p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	return d.qid(), attrMask, d.attr(), nil
}

func (d *exportsDir) SetAttr(p9.SetAttrMask, p9.SetAttr) error { return linux.EROFS }

func (d *exportsDir) StatFS() (p9.FSStat, error) {
	return p9.FSStat{Type: 0x01021997, BlockSize: 4096, NameLength: vfs.NameMax}, nil
}

func (d *exportsDir) Open(mode p9.OpenFlags) (p9.QID, uint32, error) {
	if mode.Mode() != p9.ReadOnly {
		return p9.QID{}, 0, linux.EISDIR
	}
	return d.qid(), 0, nil
}

func (d *exportsDir) Readdir(offset uint64, count uint32) (p9.Dirents, error) {
	var out p9.Dirents
	for i, ex := range d.c.srv.exports {
		if uint64(i) < offset {
			continue
		}
		out = append(out, p9.Dirent{QID: p9.QID{Type: p9.TypeDir, Path: uint64(i) + 1},
			Offset: uint64(i) + 1, Type: direntType(syscall.S_IFDIR), Name: ex.name})
	}
	return out, nil
}
