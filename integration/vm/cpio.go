package vm

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// cpioWriter writes a "newc" cpio archive, the format the kernel unpacks
// as an initramfs. Concatenated archives are unpacked in order, so a
// cached base image and a small per-run image can simply be appended.
type cpioWriter struct {
	w   io.Writer
	ino uint32
	err error
}

func (c *cpioWriter) entry(name string, mode uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	name = strings.TrimPrefix(name, "/")
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	buf := []byte(hdr)
	buf = append(buf, name...)
	buf = append(buf, 0)
	for len(buf)%4 != 0 {
		buf = append(buf, 0)
	}
	buf = append(buf, data...)
	for len(buf)%4 != 0 {
		buf = append(buf, 0)
	}
	_, c.err = c.w.Write(buf)
}

// Dir, File and Symlink add entries; parents must be added first.
func (c *cpioWriter) Dir(name string)                            { c.entry(name, 0o040755, nil) }
func (c *cpioWriter) File(name string, perm uint32, data []byte) { c.entry(name, 0o100000|perm, data) }
func (c *cpioWriter) Symlink(name, target string)                { c.entry(name, 0o120777, []byte(target)) }

// Close writes the trailer.
func (c *cpioWriter) Close() error {
	c.ino = 0
	c.entry("TRAILER!!!", 0, nil)
	return c.err
}

// tree is an in-memory file tree written to an archive in sorted order,
// with parent directories created as needed.
type tree struct {
	files map[string]treeEntry
}

type treeEntry struct {
	kind byte // 'f', 'd' or 'l'
	perm uint32
	data []byte
	link string
}

func newTree() *tree { return &tree{files: map[string]treeEntry{}} }

func (t *tree) file(name string, perm uint32, data []byte) {
	t.files[strings.TrimPrefix(name, "/")] = treeEntry{kind: 'f', perm: perm, data: data}
}

func (t *tree) symlink(name, target string) {
	t.files[strings.TrimPrefix(name, "/")] = treeEntry{kind: 'l', link: target}
}

func (t *tree) dir(name string) {
	t.files[strings.TrimPrefix(name, "/")] = treeEntry{kind: 'd'}
}

func (t *tree) write(w io.Writer) error {
	all := map[string]treeEntry{}
	for n, e := range t.files {
		all[n] = e
		for p := n; strings.Contains(p, "/"); {
			p = p[:strings.LastIndex(p, "/")]
			if _, ok := all[p]; !ok {
				all[p] = treeEntry{kind: 'd'}
			}
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	c := &cpioWriter{w: w}
	for _, n := range names {
		switch e := all[n]; e.kind {
		case 'd':
			c.Dir(n)
		case 'l':
			c.Symlink(n, e.link)
		default:
			c.File(n, e.perm, e.data)
		}
	}
	return c.Close()
}
