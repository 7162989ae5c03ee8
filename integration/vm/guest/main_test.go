package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
)

// sizedFile stands in for *os.File: a Reader that also has WriteTo,
// recording the size of every read.
type sizedFile struct {
	r     *bytes.Reader
	sizes []int
	wrote bool
}

func (f *sizedFile) Read(p []byte) (int, error) {
	f.sizes = append(f.sizes, len(p))
	return f.r.Read(p)
}

func (f *sizedFile) WriteTo(w io.Writer) (int64, error) {
	f.wrote = true
	return io.Copy(w, struct{ io.Reader }{f})
}

// TestHashAllReadsWholeRequests: readsum asks for readSize bytes per
// read even from a reader with WriteTo (as *os.File), and hashes it all.
func TestHashAllReadsWholeRequests(t *testing.T) {
	data := bytes.Repeat([]byte("cairn"), 3<<20/5)
	f := &sizedFile{r: bytes.NewReader(data)}
	n, sum, err := hashAll(f)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("hashAll: %d %v", n, err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(sum, want[:]) {
		t.Fatal("wrong checksum")
	}
	if f.wrote {
		t.Fatal("went through WriteTo")
	}
	for i, s := range f.sizes {
		if s != readSize {
			t.Fatalf("read %d asked %d bytes, want %d", i, s, readSize)
		}
	}
}
