package iostats

import (
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
	"github.com/prometheus/client_golang/prometheus"
)

func TestConformance(t *testing.T) {
	reg := prometheus.NewRegistry() // shared: every case's instance reuses the collectors
	vfstest.Run(t, func(t *testing.T) vfs.Translator {
		s, err := New(Config{Name: t.Name(), Registerer: reg}, memfs.New(memfs.Config{}))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
